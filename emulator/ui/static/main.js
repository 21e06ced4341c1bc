// The dashboard shell: pages, namespace, live polling, toasts.
import { Api, adminToken, setAdminToken } from "./api.js";
import { fill, fmtTime, h, setOptions } from "./dom.js";
import * as commands from "./commands.js";
import * as control from "./control.js";
import * as devices from "./devices.js";
import * as dps from "./dps.js";
import * as faults from "./faults.js";
import * as journal from "./journal.js";

const PAGES = [
  ["devices", "Devices", devices],
  ["commands", "Commands", commands],
  ["dps", "DPS", dps],
  ["journal", "Journal", journal],
  ["faults", "Faults", faults],
  ["control", "Clock & state", control],
];
// ?poll=<ms> changes the live-update interval (250 ms to 60 s).
const POLL_MS = Math.min(60000, Math.max(250, Number(new URLSearchParams(location.search).get("poll")) || 1500));
const NAMESPACE_POLL_TICKS = 4;

function initialNamespace() {
  const fromQuery = new URLSearchParams(location.search).get("ns");
  if (fromQuery) return fromQuery;
  // The page opened under /ns/{name}/_emulator/ui shows that namespace.
  const match = location.pathname.match(/^\/ns\/([^/]+)\//);
  return match ? decodeURIComponent(match[1]) : "default";
}

class App {
  constructor() {
    this.api = new Api(initialNamespace());
    this.live = true;
    this.page = null;
    this.pageId = null;
    this.busy = false;
    this.again = false;
    this.ticks = 0;
    this.operationsCache = null;
    this.root = document.getElementById("page");
    this.status = document.getElementById("status");
  }

  get namespace() {
    return this.api.namespace;
  }

  start() {
    const tabs = document.getElementById("tabs");
    for (const [id, title] of PAGES) {
      tabs.append(h("a", { href: `#/${id}`, "data-page": id, "data-testid": `tab-${id}` }, title));
    }
    document.getElementById("namespace").addEventListener("change", (event) => {
      this.setNamespace(event.target.value);
    });
    const live = document.getElementById("live");
    live.title = `Live updates: poll the emulator every ${POLL_MS / 1000} s`;
    live.addEventListener("click", () => {
      this.live = !this.live;
      live.setAttribute("aria-pressed", String(this.live));
      live.textContent = this.live ? "● live" : "❚❚ paused";
      if (this.live) this.refresh();
    });
    window.addEventListener("hashchange", () => this.route());
    this.renderNamespaces([]);
    this.loadAbout();
    this.route();
    setInterval(() => {
      if (this.live && !document.hidden) this.refresh();
    }, POLL_MS);
  }

  route() {
    const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
    let [id, ...params] = parts;
    if (!PAGES.some(([pageId]) => pageId === id)) {
      id = "devices";
      params = [];
    }
    for (const link of document.querySelectorAll("#tabs a")) {
      link.classList.toggle("active", link.dataset.page === id);
    }
    if (id !== this.pageId) {
      this.pageId = id;
      const [, title, module] = PAGES.find(([pageId]) => pageId === id);
      document.title = `${title} · iot-emulator`;
      this.root.replaceChildren();
      this.root.dataset.page = id;
      this.page = module.create(this);
      this.page.mount(this.root);
    }
    if (this.page.route) this.page.route(params);
    this.refresh();
  }

  navigate(...parts) {
    location.hash = "#/" + parts.map(encodeURIComponent).join("/");
  }

  setNamespace(name) {
    if (!name || name === this.namespace) return;
    this.api = new Api(name);
    const url = new URL(location.href);
    url.searchParams.set("ns", name);
    history.replaceState(null, "", url);
    this.renderNamespaces(this.namespaceNames || []);
    // The page starts over in the new namespace (filters reset, detail closed).
    this.pageId = null;
    const [id] = location.hash.replace(/^#\/?/, "").split("/");
    if (location.hash.split("/").length > 2) location.hash = `#/${id || "devices"}`;
    else this.route();
    this.toast(`Namespace ${name}`);
  }

  renderNamespaces(names) {
    this.namespaceNames = names;
    const all = [...new Set(["default", ...names, this.namespace])].sort();
    const picker = document.getElementById("namespace");
    setOptions(picker, all.map((name) => [name, name]));
    picker.value = this.namespace;
  }

  async loadAbout() {
    try {
      const health = await this.api.get("/health");
      document.getElementById("about").textContent = `iot-emulator ${health.version} · auth ${health.auth}`;
    } catch {
      // The status bar says when the emulator cannot be reached.
    }
  }

  async operations() {
    if (!this.operationsCache) this.operationsCache = (await this.api.get("/operations")).operations;
    return this.operationsCache;
  }

  // One poll: the clock, the namespaces now and then, and the current page. Never overlaps.
  async refresh() {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      const jobs = [this.refreshClock()];
      if (this.ticks++ % NAMESPACE_POLL_TICKS === 0) jobs.push(this.refreshNamespaces());
      if (this.page && this.page.refresh) jobs.push(this.page.refresh());
      await Promise.all(jobs);
      this.status.textContent = `updated ${new Date().toLocaleTimeString()}`;
      this.status.className = "";
      this.showTokenForm(false);
    } catch (error) {
      if (error.status === 401) {
        this.showTokenForm(true, adminToken() ? "The admin token was refused." : "");
        this.status.textContent = "the control plane needs the admin token";
      } else {
        this.status.textContent = `cannot reach the emulator: ${error.message}`;
      }
      this.status.className = "error";
    } finally {
      this.busy = false;
    }
    if (this.again) {
      this.again = false;
      await this.refresh();
    }
  }

  // The emulator runs with --admin-token: ask for it once, keep it for this tab.
  showTokenForm(show, problem = "") {
    let form = document.getElementById("admin-token");
    if (!show) {
      if (form) form.remove();
      return;
    }
    if (form) {
      form.querySelector(".problem").textContent = problem;
      return;
    }
    const input = h("input", { type: "password", autocomplete: "off", placeholder: "admin token", "data-testid": "admin-token-input" });
    form = h(
      "form",
      {
        id: "admin-token",
        class: "token-banner",
        "data-testid": "admin-token",
        onsubmit: (event) => {
          event.preventDefault();
          setAdminToken(input.value.trim());
          this.operationsCache = null;
          this.pageId = null;
          this.route();
          this.loadAbout();
        },
      },
      h("strong", {}, "This emulator's control plane needs its admin token"),
      h("span", { class: "muted" }, " (--admin-token; kept for this browser tab only) "),
      input,
      h("button", { type: "submit", class: "primary", "data-action": "save-token" }, "Use token"),
      h("span", { class: "problem" }, problem),
    );
    document.body.insertBefore(form, this.root);
    input.focus();
  }

  async refreshClock() {
    const clock = await this.api.get("/clock");
    this.clock = clock;
    const el = document.getElementById("clock");
    fill(
      el,
      h("span", { class: "clock-time" }, `${fmtTime(clock.nowMs)} UTC`),
      clock.frozen ? h("span", { class: "badge badge-warn", "data-testid": "clock-frozen" }, "frozen") : null,
    );
    el.classList.toggle("frozen", clock.frozen);
  }

  async refreshNamespaces() {
    const data = await this.api.get("/namespaces");
    this.renderNamespaces(data.namespaces.map((n) => n.name));
    this.namespaceList = data.namespaces;
  }

  // Run a control call from a button: report its error, refresh after it.
  async act(label, call) {
    try {
      const result = await call();
      if (label) this.toast(label);
      return result;
    } catch (error) {
      this.toast(error.message, "error");
      return undefined;
    } finally {
      this.refresh();
    }
  }

  toast(message, kind = "info") {
    const box = document.getElementById("toasts");
    const el = h("div", { class: `toast toast-${kind}`, "data-testid": `toast-${kind}` }, message);
    box.append(el);
    setTimeout(() => el.remove(), kind === "error" ? 8000 : 3000);
  }
}

const app = new App();
window.dashboard = app;
app.start();
