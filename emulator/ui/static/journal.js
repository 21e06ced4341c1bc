// The request journal, live: every vendor request with its body and its answer.
import {
  Memo, badge, emptyRow, field, fill, h, isSuccess, json, keyValues, mono, select, setOptions, timeCell,
} from "./dom.js";

const LIMITS = [100, 500, 2000];

export function codeBadge(entry) {
  const text = entry.vendorCode === null ? `HTTP ${entry.status}` : String(entry.vendorCode);
  return badge(text, isSuccess(entry) ? "ok" : "err", { "data-code": entry.vendorCode ?? "" });
}

export function create(app) {
  const memo = new Memo();
  const detailMemo = new Memo();
  let entries = [];
  let selected = null;

  const operation = select([["", "any operation"]], { "data-testid": "journal-operation" });
  const code = h("input", { type: "text", inputmode: "numeric", size: 8, placeholder: "vendor or HTTP", title: "A vendor code (e.g. 11714) or an HTTP status", "data-testid": "journal-code" });
  const outcome = select([["", "any outcome"], ["ok", "successes"], ["error", "errors"], ["injected", "injected faults"]], { "data-testid": "journal-outcome" });
  const search = h("input", { type: "search", placeholder: "path, body text…", "data-testid": "journal-search" });
  const limit = select(LIMITS.map((n) => [String(n), `newest ${n}`]));
  const summary = h("span", { class: "muted" });
  const body = h("tbody");
  const drawer = h("aside", { class: "drawer", hidden: true, "data-testid": "journal-detail" });

  operation.addEventListener("change", () => app.refresh());
  limit.addEventListener("change", () => app.refresh());
  for (const control of [code, search]) control.addEventListener("input", () => render());
  outcome.addEventListener("change", () => render());

  function mount(root) {
    root.append(
      h(
        "div",
        { class: "toolbar" },
        field("Operation", operation),
        field("Code", code),
        field("Outcome", outcome),
        field("Search", search),
        field("Show", limit),
        summary,
        h("span", { class: "grow" }),
        h("button", { type: "button", "data-action": "clear-journal", onclick: () => app.act("Journal cleared", () => app.api.delete("/requests")) }, "Clear journal"),
      ),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "grid", "data-testid": "journal-table" },
          h("thead", {}, h("tr", {}, ["#", "Time", "Operation", "Request", "HTTP", "Code", "ms", ""].map((t) => h("th", {}, t)))),
          body,
        ),
      ),
      drawer,
    );
    app.operations().then((ops) => {
      const groups = {};
      for (const op of ops) (groups[op.vendor] ||= []).push([op.id, op.id]);
      setOptions(operation, [["", "any operation"], ...Object.entries(groups).map(([group, options]) => ({ group, options }))]);
    }).catch((error) => app.toast(error.message, "error"));
  }

  async function refresh() {
    const data = await app.api.get("/requests", { operation: operation.value, limit: limit.value });
    if (memo.changed(data)) {
      entries = data.requests;
      render();
    }
  }

  function matches(entry) {
    const wanted = code.value.trim();
    if (wanted && String(entry.vendorCode) !== wanted && String(entry.status) !== wanted) return false;
    if (outcome.value === "ok" && !isSuccess(entry)) return false;
    if (outcome.value === "error" && isSuccess(entry)) return false;
    if (outcome.value === "injected" && !entry.injected) return false;
    const needle = search.value.trim().toLowerCase();
    if (!needle) return true;
    return [entry.path, JSON.stringify(entry.query), JSON.stringify(entry.body), JSON.stringify(entry.response)]
      .some((v) => v && v.toLowerCase().includes(needle));
  }

  function render() {
    const shown = entries.filter(matches);
    summary.textContent = `${shown.length} shown of ${entries.length} loaded`;
    fill(
      body,
      shown.length
        ? shown.map((e) =>
            h(
              "tr",
              {
                class: selected === e.id ? "clickable selected" : "clickable",
                "data-id": e.id,
                "data-operation": e.operation,
                onclick: () => {
                  selected = e.id;
                  detailMemo.reset();
                  render();
                },
              },
              h("td", { class: "muted" }, String(e.id)),
              h("td", {}, timeCell(e.at, { millis: true })),
              h("td", {}, mono(e.operation)),
              h("td", { class: "request-cell" }, h("span", { class: "method" }, e.method), " ", mono(e.path + queryText(e.query))),
              h("td", {}, String(e.status)),
              h("td", {}, codeBadge(e)),
              h("td", { class: "num" }, e.durationMs.toFixed(1)),
              h("td", {}, e.injected ? badge("fault", "warn", { title: `fault ${e.faultId}` }) : null),
            ),
          )
        : emptyRow(8, entries.length ? "No request matches the filters." : "No vendor requests yet in this namespace."),
    );
    renderDetail(entries.find((e) => e.id === selected) || null);
  }

  function renderDetail(entry) {
    if (!detailMemo.changed(entry)) return;
    if (!entry) {
      drawer.hidden = true;
      drawer.replaceChildren();
      return;
    }
    drawer.hidden = false;
    const close = h("button", { type: "button", class: "close", title: "Close", onclick: () => { selected = null; render(); } }, "✕");
    fill(
      drawer,
      h("header", {}, h("h2", {}, mono(entry.operation)), close),
      keyValues([
        ["Request", mono(`${entry.method} ${entry.path}${queryText(entry.query)}`)],
        ["Time", timeCell(entry.at, { millis: true })],
        ["Namespace", entry.namespace],
        ["Answer", [String(entry.status), " ", codeBadge(entry)]],
        ["Duration", `${entry.durationMs} ms`],
        ["Fault", entry.injected ? [badge("injected", "warn"), " ", mono(entry.faultId)] : entry.faultedDevices.length ? `devices ${entry.faultedDevices.join(", ")}` : null],
      ]),
      h("h3", {}, "Request body", entry.bodyTruncated ? badge("truncated", "warn") : null),
      entry.body === null ? h("p", { class: "muted" }, "No body.") : json(entry.body, { "data-testid": "journal-request-body" }),
      h("h3", {}, "Answer", entry.responseTruncated ? badge("truncated", "warn") : null),
      entry.response === null || entry.response === undefined
        ? h("p", { class: "muted" }, "No answer body recorded.")
        : json(entry.response, { "data-testid": "journal-response-body" }),
      h("details", {}, h("summary", {}, "Headers (credentials masked)"), json(entry.headers)),
    );
  }

  return { mount, refresh };
}

function queryText(query) {
  const text = new URLSearchParams(query || {}).toString();
  return text ? `?${text}` : "";
}
