// Devices per vendor and product, online state, filter and search; a device's commands.
import { ticketCard } from "./commands.js";
import {
  Memo, badge, card, compact, emptyRow, field, fill, h, json, keyValues, mono, select,
  setOptions, stateBadge, timeCell, vendorBadge,
} from "./dom.js";

const LIMIT = 1000;
const PRODUCT_POLL_TICKS = 4;

export function create(app) {
  const memo = new Memo();
  const productMemo = new Memo();
  const detailMemo = new Memo();
  let selected = null; // [vendor, productKey, deviceKey]
  let rows = [];
  let ticks = 0;

  const vendor = select([["", "all vendors"], ["quectel", "Quectel"], ["enos", "EnOS"], ["mcs", "MCS"]], {
    "data-testid": "device-vendor",
  });
  const product = select([["", "all products"]], { "data-testid": "device-product" });
  const online = select([["", "any state"], ["true", "online"], ["false", "offline"]], {
    "data-testid": "device-online",
  });
  const search = h("input", {
    type: "search", placeholder: "device key, name, asset id…", "data-testid": "device-search",
  });
  const summary = h("span", { class: "muted", "data-testid": "device-count" });
  const body = h("tbody");
  const products = h("ul", { class: "product-list", "data-testid": "products" });
  const drawer = h("aside", { class: "drawer", hidden: true, "data-testid": "device-detail" });

  for (const control of [vendor, product, online]) {
    control.addEventListener("change", () => {
      if (control === vendor) product.value = "";
      productMemo.reset();
      app.refresh();
    });
  }
  search.addEventListener("input", () => render());

  function mount(root) {
    root.append(
      h(
        "div",
        { class: "split" },
        h("div", { class: "side" }, card("Products", products)),
        h(
          "div",
          { class: "main" },
          h("div", { class: "toolbar" }, field("Vendor", vendor), field("Product", product), field("State", online),
            field("Search", search), summary),
          h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "grid", "data-testid": "devices-table" },
              h("thead", {}, h("tr", {}, ["Vendor", "Product", "Device key", "Name", "State", "Last online", "Created", ""].map((t) => h("th", {}, t)))),
              body,
            ),
          ),
        ),
      ),
      drawer,
    );
  }

  function route(params) {
    selected = params.length === 3 ? params : null;
    detailMemo.reset();
    if (!selected) {
      drawer.hidden = true;
      drawer.replaceChildren();
    }
    render();
  }

  async function refresh() {
    const jobs = [
      app.api.get("/devices", {
        vendor: vendor.value, productKey: product.value, online: online.value, limit: LIMIT,
      }),
    ];
    const withProducts = ticks++ % PRODUCT_POLL_TICKS === 0 || productMemo.last === undefined;
    if (withProducts) jobs.push(app.api.get("/products", { vendor: vendor.value }));
    if (selected) jobs.push(loadDetail());
    let [list, productData] = await Promise.all(jobs);
    const listChanged = memo.changed(list);
    // Devices came or went, or changed state: the product counts follow at once.
    if (listChanged && !withProducts) productData = await app.api.get("/products", { vendor: vendor.value });
    if (productData && productMemo.changed(productData)) renderProducts(productData.products);
    if (listChanged) {
      rows = list.devices;
      summary.dataset.total = list.total;
      render(list.total);
    }
  }

  function renderProducts(items) {
    setOptions(product, [["", "all products"], ...items.map((p) => [p.productKey, `${p.productKey} (${p.vendor})`])]);
    fill(
      products,
      items.length
        ? items.map((p) =>
            h(
              "li",
              {},
              h(
                "button",
                {
                  type: "button",
                  class: product.value === p.productKey ? "product active" : "product",
                  "data-product": p.productKey,
                  onclick: () => {
                    vendor.value = p.vendor;
                    product.value = product.value === p.productKey ? "" : p.productKey;
                    productMemo.reset();
                    app.refresh();
                  },
                },
                h("span", { class: "product-head" }, vendorBadge(p.vendor), mono(p.productKey)),
                h("span", { class: "product-name" }, p.name || ""),
                h("span", { class: "product-count" }, `${p.online} online of ${p.devices} device${p.devices === 1 ? "" : "s"}`),
              ),
            ),
          )
        : h("li", { class: "muted" }, "No products."),
    );
  }

  function matches(device, text) {
    if (!text) return true;
    const needle = text.toLowerCase();
    return [device.deviceKey, device.name, device.productKey, device.assetId, device.orgId]
      .some((v) => v && String(v).toLowerCase().includes(needle));
  }

  function render(total = Number(summary.dataset.total || 0)) {
    if (memo.last === undefined) {
      fill(body, emptyRow(8, "Loading…"));
      return;
    }
    const shown = rows.filter((d) => matches(d, search.value.trim()));
    const loaded = rows.length < total ? ` (the first ${rows.length} loaded)` : "";
    summary.textContent = `${shown.length} shown of ${total} device${total === 1 ? "" : "s"}${loaded}`;
    fill(
      body,
      shown.length
        ? shown.map((d) => {
            const key = [d.vendor, d.productKey, d.deviceKey];
            const isSelected = selected && key.every((v, i) => v === selected[i]);
            return h(
              "tr",
              {
                class: isSelected ? "selected clickable" : "clickable",
                "data-key": key.join("/"),
                onclick: (event) => {
                  if (event.target.closest("button")) return;
                  app.navigate("devices", ...key);
                },
              },
              h("td", {}, vendorBadge(d.vendor)),
              h("td", {}, mono(d.productKey)),
              h("td", {}, mono(d.deviceKey)),
              h("td", {}, d.name),
              h("td", {}, stateBadge(d.online ? "online" : "offline")),
              h("td", {}, timeCell(d.lastOnlineAt)),
              h("td", {}, timeCell(d.createdAt)),
              h("td", { class: "actions" }, onlineButton(d), h("button", { type: "button", onclick: () => app.navigate("devices", ...key) }, "Commands")),
            );
          })
        : emptyRow(8, rows.length ? "No device matches the search." : "No devices yet: create some through a vendor API."),
    );
  }

  function onlineButton(device) {
    const next = device.online ? "offline" : "online";
    return h(
      "button",
      {
        type: "button",
        class: device.online ? "" : "primary",
        "data-action": `set-${next}`,
        onclick: () =>
          app.act(`${device.deviceKey} is ${next}`, () =>
            app.api.post(
              `/devices/${encodeURIComponent(device.vendor)}/${encodeURIComponent(device.productKey)}/${encodeURIComponent(device.deviceKey)}/${next}`,
            ),
          ),
      },
      device.online ? "Set offline" : "Set online",
    );
  }

  async function loadDetail() {
    const [v, pk, dk] = selected;
    const path = `/devices/${encodeURIComponent(v)}/${encodeURIComponent(pk)}/${encodeURIComponent(dk)}`;
    const absent = (error) => {
      if (error.status === 404) return null;
      throw error;
    };
    const [device, tickets, extra] = await Promise.all([
      app.api.get(path).catch(absent),
      app.api.get("/commands", { vendor: v, productKey: pk, deviceKey: dk }),
      app.api.get(`${path}/tables`).catch(absent),
    ]);
    const tables = extra ? extra.tables : [];
    if (detailMemo.changed({ device, tickets, tables })) renderDetail(device, tickets, tables);
  }

  function renderDetail(device, tickets, tables) {
    const [v, pk, dk] = selected;
    drawer.hidden = false;
    const close = h("button", { type: "button", class: "close", title: "Close", onclick: () => app.navigate("devices") }, "✕");
    if (!device) {
      fill(drawer, h("header", {}, h("h2", {}, `${v} ${pk} / ${dk}`), close), h("p", { class: "muted" }, "No such device in this namespace."));
      return;
    }
    const items = [...tickets.commands].reverse();
    fill(
      drawer,
      h("header", {}, h("h2", {}, vendorBadge(v), " ", mono(`${pk} / ${dk}`)), close),
      h("div", { class: "drawer-actions" }, stateBadge(device.online ? "online" : "offline"), onlineButton(device)),
      keyValues([
        ["Name", device.name],
        ["Secret", device.secret ? mono(device.secret) : null],
        ["Org", device.orgId],
        ["Asset id", device.assetId ? mono(device.assetId) : null],
        ["Gateway", device.gatewayDeviceKey ? mono(`${device.gatewayProductKey} / ${device.gatewayDeviceKey}`) : null],
        ["Created", timeCell(device.createdAt)],
        ["Updated", timeCell(device.updatedAt)],
        ["First online", timeCell(device.firstOnlineAt)],
        ["Last online", timeCell(device.lastOnlineAt)],
        ["Last offline", timeCell(device.lastOfflineAt)],
      ]),
      tables.map(vendorTable),
      Object.keys(device.attrs || {}).length ? h("details", {}, h("summary", {}, "Vendor fields"), json(device.attrs)) : null,
      h("h3", {}, `Commands (${tickets.total})`, " ", badge("newest first", "neutral")),
      items.length
        ? h("div", { class: "tickets", "data-testid": "device-commands" }, items.map((t) => ticketCard(app, t)))
        : h("p", { class: "muted" }, v === "quectel" ? "No commands yet: send one with batchControlDevice." : "No commands for this device."),
    );
  }

  // A table the device's vendor adds to its page (what a real device reported), each cell
  // shown by its column's kind; text only (textContent), whatever the device sent.
  function vendorTable(table) {
    const cell = (kind, value) => {
      if (kind === "time") return timeCell(value);
      if (kind === "mono") return mono(String(value ?? ""));
      if (kind === "value") return compact(value);
      return String(value ?? "");
    };
    return h(
      "div", { "data-testid": `device-table-${table.id}` },
      h("h3", {}, table.title, " ", table.note ? badge(table.note, "neutral") : null),
      h(
        "table", { class: "grid" },
        h("thead", {}, h("tr", {}, table.columns.map((c) => h("th", {}, c.name)))),
        h("tbody", {}, table.rows.map((row) => h(
          "tr", { "data-row": row.key },
          table.columns.map((c, i) => h("td", {}, cell(c.kind, row.cells[i]))),
        ))),
      ),
    );
  }

  return { mount, route, refresh };
}
