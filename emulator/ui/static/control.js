// The clock (freeze, advance, release), the namespace's state (reset, seed, export), namespaces.
import { Memo, badge, card, emptyRow, field, fill, fmtTime, h, mono, timeCell } from "./dom.js";

const STEPS = [
  [60, "+1 min"],
  [3600, "+1 h"],
  [7201, "+2 h (tokens expire)"],
  [86400, "+1 day"],
];

export function create(app) {
  const memo = new Memo();
  const clockMemo = new Memo();

  const now = h("div", { class: "clock-big", "data-testid": "control-clock" });
  const at = h("input", { type: "datetime-local", step: 1, "data-testid": "freeze-at" });
  const seconds = h("input", { type: "number", step: "any", value: "60", size: 8, "data-testid": "advance-seconds" });
  const seed = h("input", { type: "number", placeholder: "random", "data-testid": "seed" });
  const newName = h("input", { type: "text", placeholder: "worker-1", pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}", "data-testid": "new-namespace" });
  const namespaces = h("tbody");
  const resetButton = h("button", { type: "button", class: "danger", "data-action": "reset" }, "Reset namespace");
  let armedReset = null;

  async function deleteNamespace(name) {
    const done = await app.act(`Namespace ${name} deleted`, () => app.api.delete(`/namespaces/${encodeURIComponent(name)}`));
    // The page's next poll would create the shown namespace again: show the default one.
    if (done && name === app.namespace && name !== "default") app.setNamespace("default");
  }

  const setClock = (label, update) => app.act(label, () => app.api.post("/clock", update));

  resetButton.addEventListener("click", () => {
    // Two clicks: the first arms, the second resets (no modal dialog to dismiss).
    if (!armedReset) {
      resetButton.textContent = `Click again to reset ${app.namespace}`;
      armedReset = setTimeout(() => {
        armedReset = null;
        resetButton.textContent = "Reset namespace";
      }, 4000);
      return;
    }
    clearTimeout(armedReset);
    armedReset = null;
    resetButton.textContent = "Reset namespace";
    app.act(`${app.namespace} is back to the baseline`, () => app.api.post("/reset"));
  });

  function mount(root) {
    root.append(
      h(
        "div",
        { class: "columns" },
        card(
          "Clock",
          h("p", { class: "muted" }, "Timestamps, token expiry and command-cache expiry read this clock; it is shared by every namespace."),
          now,
          h("div", { class: "row" },
            h("button", { type: "button", "data-action": "freeze", onclick: () => setClock("Clock frozen", { freeze: true }) }, "Freeze now"),
            h("button", { type: "button", "data-action": "release", onclick: () => app.act("Clock released: real time", () => app.api.delete("/clock")) }, "Release (real time)")),
          h("form", { class: "row", onsubmit: (event) => { event.preventDefault(); if (at.value) setClock(`Clock frozen at ${at.value} UTC`, { freeze: at.value }); } },
            field("Freeze at (UTC)", at), h("button", { type: "submit", "data-action": "freeze-at" }, "Freeze at")),
          h("form", { class: "row", onsubmit: (event) => { event.preventDefault(); setClock(`Clock advanced ${seconds.value} s`, { advance: Number(seconds.value) }); } },
            field("Advance (seconds)", seconds), h("button", { type: "submit", "data-action": "advance" }, "Advance")),
          h("div", { class: "row" }, STEPS.map(([s, label]) => h("button", { type: "button", class: "chip", onclick: () => setClock(`Clock advanced ${label}`, { advance: s }) }, label))),
        ),
        card(
          "State of this namespace",
          h("p", { class: "muted" }, "Reset puts the namespace back to the fixtures' baseline and clears its faults and journal. A seed makes its ids repeatable: the same seed and requests give the same ids."),
          h("div", { class: "row" }, resetButton),
          h("form", { class: "row", onsubmit: (event) => { event.preventDefault(); const value = seed.value === "" ? null : Number(seed.value); app.act(`Seed ${value ?? "random"}`, () => app.api.post("/seed", { seed: value })); } },
            field("Seed", seed), h("button", { type: "submit", "data-action": "seed" }, "Set seed")),
          h("div", { class: "row" }, h("span", { class: "muted" }, "Export the state: "),
            h("button", { type: "button", "data-action": "export-json", onclick: () => app.act(null, () => app.api.download("/state", {}, `${app.namespace}-state.json`)) }, "JSON"),
            h("button", { type: "button", "data-action": "export-yaml", onclick: () => app.act(null, () => app.api.download("/state", { format: "yaml" }, `${app.namespace}-state.yaml`)) }, "YAML")),
        ),
      ),
      card(
        "Namespaces",
        h("p", { class: "muted" }, "A namespace starts from the baseline on first use; the dashboard shows the one picked at the top."),
        h("form", { class: "row", onsubmit: (event) => { event.preventDefault(); const name = newName.value.trim(); if (name) { newName.value = ""; app.setNamespace(name); } } },
          field("Open or create", newName), h("button", { type: "submit", "data-action": "open-namespace" }, "Open")),
        h("table", { class: "grid", "data-testid": "namespaces-table" },
          h("thead", {}, h("tr", {}, ["Name", "Created", ""].map((t) => h("th", {}, t)))),
          namespaces),
      ),
    );
  }

  async function refresh() {
    const [clock, list] = await Promise.all([app.api.get("/clock"), app.api.get("/namespaces")]);
    if (clockMemo.changed([clock.frozen, clock.frozen ? clock.nowMs : Math.floor(clock.nowMs / 1000)])) {
      fill(now, h("span", {}, `${fmtTime(clock.nowMs)} UTC`), " ", clock.frozen ? badge("frozen", "warn") : badge("real time", "ok"));
      if (!at.value || document.activeElement !== at) at.value = fmtTime(clock.nowMs).replace(" ", "T");
    }
    if (memo.changed([list, app.namespace])) {
      fill(
        namespaces,
        list.namespaces.length
          ? list.namespaces.map((n) =>
              h(
                "tr",
                { "data-namespace": n.name, class: n.name === app.namespace ? "selected" : "" },
                h("td", {}, mono(n.name), n.name === app.namespace ? [" ", badge("shown", "info")] : null),
                h("td", {}, timeCell(n.createdAt)),
                h("td", { class: "actions" },
                  h("button", { type: "button", "data-action": "open", disabled: n.name === app.namespace, onclick: () => app.setNamespace(n.name) }, "Open"),
                  h("button", { type: "button", class: "danger", "data-action": "delete-namespace", onclick: () => deleteNamespace(n.name) }, "Delete")),
              ),
            )
          : emptyRow(3, "No namespace holds state yet."),
      );
    }
  }

  return { mount, refresh };
}
