// Command tickets as they flow: state history, payload, and the device's ack.
import {
  Memo, compact, emptyRow, field, fill, h, json, mono, select, stateBadge, timeCell, vendorBadge,
} from "./dom.js";

const STATES = ["sent", "delivered", "succeeded", "failed", "cached", "expired", "superseded"];
const WINDOW = 500;

function ackButtons(app, ticket) {
  if (ticket.state !== "sent") return null;
  const ack = (success) =>
    app.act(`${ticket.ticket.slice(0, 8)}… ${success ? "succeeded" : "failed"}`, () =>
      app.api.post(`/commands/${encodeURIComponent(ticket.ticket)}/ack`, { success }),
    );
  return h(
    "span",
    { class: "ack" },
    h("button", { type: "button", class: "primary", "data-action": "ack", title: "The device acknowledges: succeeded", onclick: () => ack(true) }, "Ack"),
    h("button", { type: "button", class: "danger", "data-action": "nack", title: "The device acknowledges a failure: failed", onclick: () => ack(false) }, "Fail"),
  );
}

function history(ticket) {
  return h(
    "ol",
    { class: "history" },
    ticket.history.map((step) =>
      h(
        "li",
        {},
        stateBadge(step.state),
        " ",
        timeCell(step.at, { millis: true, date: false }),
        step.until ? h("span", { class: "muted" }, ` until ${new Date(step.until).toISOString().slice(11, 19)}`) : null,
      ),
    ),
  );
}

function deviceOf(ticket) {
  return [
    mono(`${ticket.productKey} / ${ticket.deviceKey}`),
    ticket.gateway ? h("div", { class: "muted small" }, `via ${ticket.gateway.productKey} / ${ticket.gateway.deviceKey}`) : null,
  ];
}

// One ticket as a card (the device drawer).
export function ticketCard(app, ticket) {
  return h(
    "article",
    { class: "ticket", "data-ticket": ticket.ticket, "data-state": ticket.state },
    h("header", {}, stateBadge(ticket.state), mono(ticket.ticket, { class: "mono ticket-id" }), h("span", { class: "muted" }, `qos ${ticket.qos}`), ackButtons(app, ticket)),
    history(ticket),
    h("div", { class: "payload" }, h("span", { class: "muted" }, "payload "), mono(compact(ticket.payload, 120))),
    ticket.result !== null && ticket.result !== undefined
      ? h("div", { class: "payload" }, h("span", { class: "muted" }, "result "), mono(compact(ticket.result, 120)))
      : null,
    ticket.gateway ? h("div", { class: "muted small" }, `via gateway ${ticket.gateway.productKey} / ${ticket.gateway.deviceKey}`) : null,
  );
}

export function create(app) {
  const memo = new Memo();
  const open = new Set();
  let items = [];
  let total = 0;

  const state = select([["", "any state"], ...STATES.map((s) => [s, s])], { "data-testid": "command-state" });
  const vendor = select([["", "all vendors"], ["quectel", "Quectel"], ["enos", "EnOS"], ["mcs", "MCS"]]);
  const search = h("input", { type: "search", placeholder: "ticket, product or device key…", "data-testid": "command-search" });
  const counts = h("div", { class: "chips", "data-testid": "command-counts" });
  const summary = h("span", { class: "muted" });
  const body = h("tbody");

  state.addEventListener("change", () => app.refresh());
  vendor.addEventListener("change", () => app.refresh());
  search.addEventListener("input", () => render());

  function mount(root) {
    root.append(
      h("div", { class: "toolbar" }, field("State", state), field("Vendor", vendor), field("Search", search), summary),
      counts,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "grid", "data-testid": "commands-table" },
          h("thead", {}, h("tr", {}, ["Created", "Ticket", "Vendor", "Device", "QoS", "State", "History", "Payload"].map((t) => h("th", {}, t)))),
          body,
        ),
      ),
    );
  }

  async function refresh() {
    const params = { state: state.value, vendor: vendor.value, limit: WINDOW };
    let page = await app.api.get("/commands", params);
    // Oldest first on the wire: fetch the newest window when there are more.
    if (page.total > WINDOW) page = await app.api.get("/commands", { ...params, offset: page.total - WINDOW });
    const all = await app.api.get("/commands", { vendor: vendor.value, limit: 1 });
    if (memo.changed([page, all.total])) {
      items = [...page.commands].reverse();
      total = page.total;
      render();
      renderCounts(items, all.total);
    }
  }

  function renderCounts(list, everything) {
    const tally = {};
    for (const t of list) tally[t.state] = (tally[t.state] || 0) + 1;
    fill(
      counts,
      h("span", { class: "muted" }, `${everything} ticket${everything === 1 ? "" : "s"} in ${app.namespace}`),
      Object.entries(tally).map(([s, n]) =>
        h("button", { type: "button", class: "chip", title: `Show ${s} only`, onclick: () => { state.value = state.value === s ? "" : s; app.refresh(); } }, stateBadge(s), ` ${n}`),
      ),
    );
  }

  function render() {
    const needle = search.value.trim().toLowerCase();
    const shown = items.filter((t) => !needle || [t.ticket, t.productKey, t.deviceKey].some((v) => v.toLowerCase().includes(needle)));
    summary.textContent = `${shown.length} shown of ${total}${total > WINDOW ? ` (the newest ${WINDOW} loaded)` : ""}`;
    fill(
      body,
      shown.length
        ? shown.flatMap((t) => {
            const row = h(
              "tr",
              {
                class: "clickable",
                "data-ticket": t.ticket,
                "data-state": t.state,
                onclick: (event) => {
                  if (event.target.closest("button")) return;
                  if (open.has(t.ticket)) open.delete(t.ticket);
                  else open.add(t.ticket);
                  render();
                },
              },
              h("td", {}, timeCell(t.createdAt)),
              h("td", {}, mono(`${t.ticket.slice(0, 12)}…`, { title: t.ticket, class: "mono ticket-id" })),
              h("td", {}, vendorBadge(t.vendor)),
              h("td", {}, deviceOf(t)),
              h("td", {}, String(t.qos)),
              h("td", { class: "state-cell" }, stateBadge(t.state), ackButtons(app, t)),
              h("td", {}, history(t)),
              h("td", { class: "payload-cell", title: JSON.stringify(t.payload) }, mono(compact(t.payload, 60))),
            );
            if (!open.has(t.ticket)) return [row];
            return [
              row,
              h("tr", { class: "expanded" }, h("td", { colspan: 8 }, h("div", { class: "two" },
                h("div", {}, h("h4", {}, "Ticket"), json({ ...t, history: undefined })),
                h("div", {}, h("h4", {}, "History"), json(t.history)),
              ))),
            ];
          })
        : emptyRow(8, items.length ? "No ticket matches the search." : "No commands yet: send one with Quectel batchControlDevice."),
    );
  }

  return { mount, refresh };
}
