// The EnOS DPS inventory: each SN's allocation state and the device it provisioned.
import {
  Memo, badge, card, compact, emptyRow, field, fill, h, mono, select, setOptions, stateBadge, timeCell,
} from "./dom.js";

export function create(app) {
  const memo = new Memo();
  let data = { total: 0, groups: [], devices: [] };

  const status = select([["", "any status"], ["init", "init"], ["allocated", "allocated"], ["connected", "connected"]], { "data-testid": "dps-status" });
  const org = select([["", "all orgs"]], { "data-testid": "dps-org" });
  const search = h("input", { type: "search", placeholder: "SN, group, product…", "data-testid": "dps-search" });
  const summary = h("span", { class: "muted" });
  const groups = h("tbody");
  const body = h("tbody");

  status.addEventListener("change", () => app.refresh());
  org.addEventListener("change", () => app.refresh());
  search.addEventListener("input", () => render());

  function mount(root) {
    root.append(
      card(
        "Registration groups",
        h("table", { class: "grid compact", "data-testid": "dps-groups" },
          h("thead", {}, h("tr", {}, ["Org", "Group", "Product", "Region", "Master-data group"].map((t) => h("th", {}, t)))),
          groups),
      ),
      h("div", { class: "toolbar" }, field("Status", status), field("Org", org), field("Search", search), summary),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "grid", "data-testid": "dps-table" },
          h("thead", {}, h("tr", {}, ["SN", "Org", "Group", "Product", "Status", "Allocate", "Connect", "Allocated", "Connected", "Provisioned device", "Device data"].map((t) => h("th", {}, t)))),
          body,
        ),
      ),
    );
  }

  async function refresh() {
    const next = await app.api.get("/dps/devices", { status: status.value, orgId: org.value, limit: 1000 });
    if (memo.changed(next)) {
      data = next;
      const orgs = [...new Set(next.groups.map((g) => g.orgId))];
      setOptions(org, [["", "all orgs"], ...orgs.map((o) => [o, o])]);
      fill(
        groups,
        next.groups.length
          ? next.groups.map((g) => h("tr", {}, h("td", {}, mono(g.orgId)), h("td", {}, mono(g.groupId)), h("td", {}, mono(g.productKey)), h("td", {}, g.regionId), h("td", {}, g.masterDataGroup || h("span", { class: "muted" }, "every definition"))))
          : emptyRow(5, "No registration groups."),
      );
      render();
    }
  }

  function render() {
    const needle = search.value.trim().toLowerCase();
    const shown = data.devices.filter((d) => !needle || [d.sn, d.groupId, d.productKey, d.orgId].some((v) => v && v.toLowerCase().includes(needle)));
    summary.textContent = `${shown.length} shown of ${data.total} SN${data.total === 1 ? "" : "s"}`;
    fill(
      body,
      shown.length
        ? shown.map((d) =>
            h(
              "tr",
              { "data-sn": d.sn, "data-state": d.currentStatus },
              h("td", {}, mono(d.sn)),
              h("td", {}, mono(d.orgId)),
              h("td", {}, mono(d.groupId)),
              h("td", {}, mono(d.productKey)),
              h("td", {}, stateBadge(d.currentStatus)),
              h("td", {}, stateBadge(d.allocateStatus)),
              h("td", {}, stateBadge(d.connectStatus)),
              h("td", {}, timeCell(d.status.allocatedTime)),
              h("td", {}, timeCell(d.status.connectedTime)),
              h("td", { class: "nowrap" }, provisioned(d)),
              h("td", { class: "payload-cell", title: JSON.stringify(d.deviceData, null, 2) }, mono(compact(d.deviceData, 60))),
            ),
          )
        : emptyRow(11, data.devices.length ? "No SN matches the search." : "The inventory is empty."),
    );
  }

  function provisioned(d) {
    const p = d.provisioned;
    if (!p) return h("span", { class: "muted" }, "—");
    const link = h("a", { href: `#/devices/enos/${encodeURIComponent(p.productKey)}/${encodeURIComponent(p.deviceKey)}` }, mono(p.deviceKey));
    return [
      link,
      " ",
      p.exists ? stateBadge(p.online ? "online" : "offline") : badge("deleted", "neutral"),
      d.reprovisioning ? [" ", badge("reprovisioned", "info")] : null,
    ];
  }

  return { mount, refresh };
}
