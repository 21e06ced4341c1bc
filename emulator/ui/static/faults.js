// Faults: arm a rule on an operation (or one device of a batch, or one device's messages),
// list and clear them.
import { codeBadge } from "./journal.js";
import {
  Memo, badge, card, emptyRow, field, fill, h, mono, select, setOptions, timeCell,
} from "./dom.js";

function options(f) {
  const parts = [];
  if (f.probability !== 1) parts.push(`p ${f.probability}${f.seed === null ? "" : ` seed ${f.seed}`}`);
  if (f.latencyMs) parts.push(`+${f.latencyMs} ms`);
  if (f.expiresAt) parts.push(["until ", timeCell(f.expiresAt, { date: false })]);
  return parts.length ? parts.flatMap((p, i) => (i ? [", ", p] : [p])) : h("span", { class: "muted" }, "—");
}

export function create(app) {
  const memo = new Memo();
  const recentMemo = new Memo();
  let operations = [];

  const operation = select([["", "loading…"]], { required: true, "data-testid": "fault-operation" });
  const code = select([], { "data-testid": "fault-code" });
  // Device messages only: drop the reply or the connection instead of answering a code.
  const action = select([["", "answer the code"]], { "data-testid": "fault-action" });
  const times = h("input", { type: "number", min: 1, placeholder: "until cleared", "data-testid": "fault-times" });
  const deviceKey = h("input", { type: "text", placeholder: "whole request", "data-testid": "fault-device" });
  const probability = h("input", { type: "number", min: 0.01, max: 1, step: 0.01, value: "1", "data-testid": "fault-probability" });
  const seed = h("input", { type: "number", placeholder: "random", "data-testid": "fault-seed" });
  const latency = h("input", { type: "number", min: 0, max: 120000, value: "0", "data-testid": "fault-latency" });
  const ttl = h("input", { type: "number", min: 1, placeholder: "none", "data-testid": "fault-ttl" });
  const body = h("tbody");
  const recent = h("tbody");

  operation.addEventListener("change", () => renderCodes());

  function renderCodes() {
    const op = operations.find((o) => o.id === operation.value);
    const codes = op ? op.codes : [];
    setOptions(code, codes.map((c) => [String(c), op.faultOnly.includes(c) ? `${c} (fault only)` : String(c)]));
    setOptions(action, [["", "answer the code"], ...(op ? op.actions : []).map((a) => [a, a])]);
    // A code no real input produces is what a fault is most often for.
    if (op && op.faultOnly.length && !op.faultOnly.includes(Number(code.value))) code.value = String(op.faultOnly[0]);
  }

  async function arm(event) {
    event.preventDefault();
    const spec = { operation: operation.value };
    if (action.value) spec.action = action.value;
    else spec.code = Number(code.value);
    if (times.value) spec.times = Number(times.value);
    if (deviceKey.value.trim()) spec.deviceKey = deviceKey.value.trim();
    if (probability.value && Number(probability.value) !== 1) spec.probability = Number(probability.value);
    if (seed.value) spec.seed = Number(seed.value);
    if (latency.value && Number(latency.value) > 0) spec.latencyMs = Number(latency.value);
    if (ttl.value) spec.ttlSeconds = Number(ttl.value);
    const rule = await app.act(null, () => app.api.post("/faults", spec));
    if (rule) app.toast(`Armed ${rule.id}: ${rule.operation} ${rule.action || `answers ${rule.code}`}`);
  }

  function mount(root) {
    const form = h(
      "form",
      { class: "form-grid", "data-testid": "fault-form", onsubmit: arm },
      field("Operation", operation),
      field("Code", code, "the operation's documented codes"),
      field("Action", action, "device messages: drop the reply or the connection instead"),
      field("Times", times, "blank: until cleared"),
      field("Device key", deviceKey, "one device of a batch, or one device's messages; * every device"),
      field("Probability", probability),
      field("Seed", seed, "makes the probability reproducible"),
      field("Latency (ms)", latency),
      field("TTL (s)", ttl, "on the emulator clock"),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary", "data-action": "arm" }, "Arm fault")),
    );
    root.append(
      h(
        "div",
        { class: "columns" },
        card("Arm a fault", form),
        card(
          "Armed faults",
          h("div", { class: "card-actions" }, h("button", { type: "button", class: "danger", "data-action": "clear-faults", onclick: () => app.act("Faults cleared", () => app.api.delete("/faults")) }, "Clear all")),
          h("div", { class: "scroll-x" }, h("table", { class: "grid", "data-testid": "faults-table" },
            h("thead", {}, h("tr", {}, ["Id", "Operation", "Code", "Device", "Fired", "Options", ""].map((t) => h("th", {}, t)))),
            body)),
        ),
      ),
      card(
        "Recently injected",
        h("table", { class: "grid compact", "data-testid": "injected-table" },
          h("thead", {}, h("tr", {}, ["Time", "Fault", "Operation", "Request", "Answer"].map((t) => h("th", {}, t)))),
          recent),
      ),
    );
    app.operations().then((ops) => {
      operations = ops;
      const groups = {};
      for (const op of ops) (groups[op.vendor] ||= []).push([op.id, op.id]);
      setOptions(operation, Object.entries(groups).map(([group, options]) => ({ group, options })));
      renderCodes();
    }).catch((error) => app.toast(error.message, "error"));
  }

  async function refresh() {
    const [data, journal] = await Promise.all([app.api.get("/faults"), app.api.get("/requests", { limit: 500 })]);
    if (memo.changed(data)) {
      fill(
        body,
        data.faults.length
          ? data.faults.map((f) =>
              h(
                "tr",
                { "data-fault": f.id },
                h("td", {}, mono(f.id)),
                h("td", {}, mono(f.operation)),
                h("td", {}, badge(f.action || String(f.code), "err")),
                h("td", {}, f.deviceKey ? mono(f.deviceKey) : h("span", { class: "muted" }, "whole request")),
                h("td", { "data-testid": "fault-fired", title: "fired / times" }, `${f.fired} / ${f.times === null ? "∞" : f.times}`),
                h("td", { class: "small" }, options(f)),
                h("td", {}, h("button", { type: "button", "data-action": "remove-fault", onclick: () => app.act(`Fault ${f.id} removed`, () => app.api.delete(`/faults/${encodeURIComponent(f.id)}`)) }, "Remove")),
              ),
            )
          : emptyRow(7, "No faults armed in this namespace."),
      );
    }
    const injected = journal.requests.filter((e) => e.injected || e.faultedDevices.length).slice(0, 10);
    if (recentMemo.changed(injected)) {
      fill(
        recent,
        injected.length
          ? injected.map((e) =>
              h("tr", { "data-id": e.id },
                h("td", {}, timeCell(e.at, { millis: true })),
                h("td", {}, mono(e.faultId || ""), e.faultedDevices.length ? h("span", { class: "muted" }, ` devices ${e.faultedDevices.join(", ")}`) : null),
                h("td", {}, mono(e.operation)),
                h("td", {}, mono(`${e.method} ${e.path}`)),
                h("td", {}, String(e.status), " ", codeBadge(e)),
              ),
            )
          : emptyRow(5, "No vendor call has met a fault yet."),
      );
    }
  }

  return { mount, refresh };
}
