// Small DOM helpers: every value from the emulator goes in as text, never as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

// Emulator times are epoch milliseconds on the emulator clock, shown in UTC.
export function fmtTime(ms, { millis = false, date = true } = {}) {
  if (ms === null || ms === undefined || ms === "") return "";
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return String(ms);
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  let time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (millis) time += `.${pad(d.getUTCMilliseconds(), 3)}`;
  return date ? `${day} ${time}` : time;
}

export function timeCell(ms, options) {
  if (ms === null || ms === undefined) return h("span", { class: "muted" }, "—");
  return h("time", { title: `${fmtTime(ms, { millis: true })} UTC (${ms})` }, fmtTime(ms, options));
}

export function badge(text, kind = "neutral", attrs = {}) {
  return h("span", { class: `badge badge-${kind}`, ...attrs }, text);
}

const STATE_KINDS = {
  online: "ok",
  offline: "neutral",
  sent: "info",
  delivered: "ok",
  succeeded: "ok",
  failed: "err",
  cached: "warn",
  expired: "neutral",
  superseded: "neutral",
  init: "neutral",
  allocated: "info",
  connected: "ok",
  disconnected: "warn",
};

export function stateBadge(state) {
  return badge(state, STATE_KINDS[state] || "neutral", { "data-state": state });
}

export function vendorBadge(vendor) {
  return h("span", { class: `vendor vendor-${vendor}` }, vendor);
}

export function mono(text, attrs = {}) {
  return h("code", { class: "mono", ...attrs }, text === null || text === undefined ? "" : text);
}

export function json(value, attrs = {}) {
  const text = value === undefined ? "" : JSON.stringify(value, null, 2);
  return h("pre", { class: "json", ...attrs }, text);
}

export function compact(value, max = 80) {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function keyValues(pairs) {
  return h(
    "dl",
    { class: "kv" },
    pairs
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [
        h("dt", {}, key),
        h("dd", {}, value === null || value === "" ? h("span", { class: "muted" }, "—") : value),
      ]),
  );
}

export function emptyRow(columns, text) {
  return h("tr", { class: "empty" }, h("td", { colspan: columns }, text));
}

export function select(options, attrs = {}) {
  const el = h("select", attrs);
  setOptions(el, options);
  return el;
}

// options: [value, label] pairs, or {group, options} for an <optgroup>.
export function setOptions(el, options) {
  const current = el.value;
  el.replaceChildren(
    ...options.map((option) => {
      if (option && option.group) {
        return h("optgroup", { label: option.group }, option.options.map(([v, l]) => h("option", { value: v }, l)));
      }
      const [value, label] = option;
      return h("option", { value }, label);
    }),
  );
  if ([...el.options].some((o) => o.value === current)) el.value = current;
  return el;
}

export function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, children);
}

// Whether an answer is the vendor's success: Quectel code 200, EnOS 0, MCS no code (HTTP 2xx).
export function isSuccess(entry) {
  if (entry.status >= 400) return false;
  return entry.vendorCode === null || entry.vendorCode === 0 || entry.vendorCode === 200;
}

// Re-render only when the data changed, so the page keeps focus, selection and scroll.
export class Memo {
  constructor() {
    this.last = undefined;
  }
  changed(value) {
    const text = JSON.stringify(value);
    if (text === this.last) return false;
    this.last = text;
    return true;
  }
  reset() {
    this.last = undefined;
  }
}
