// The safety lever's state on every page: a banner under the top bar while
// it is engaged (reason, since when, who), its state in the nav, and the
// buttons that start something (a run, a game day, an overlay) disabled
// with the reason. The state is read on every page change and every few
// seconds, without ever asking for a token (a background read must not
// prompt).

import { get } from "./api.js";
import { el, $, fmtTime, fmtAgo } from "./dom.js";

const REFRESH_MS = 5000;

let state = null; // the last GET /safety/lever answer
const listeners = new Set();

/** leverState returns the last known state, or null before the first read. */
export const leverState = () => state;

/** onLeverChange calls fn(state) whenever the known state changes. */
export function onLeverChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

const key = (s) => (s ? JSON.stringify([s.engaged, s.reason || "", s.since || "", s.by || ""]) : "");

/** setLever records a state the page learnt (e.g. from its own POST). */
export function setLever(s) {
  const changed = key(s) !== key(state);
  state = s;
  if (!changed) return;
  render();
  for (const fn of listeners) fn(s);
}

/** refreshLever reads the state again; a failed read keeps the last one. */
export async function refreshLever() {
  try {
    setLever(await get("/safety/lever", { quiet: true }));
  } catch {
    // Unreachable server or no token yet: the page says so itself.
  }
  return state;
}

/** leverSummary is "since 14:02:11 (3 min ago) by ops" for a state. */
export function leverSummary(s) {
  const bits = [];
  if (s.since) bits.push(`since ${fmtTime(s.since)} (${fmtAgo(s.since)})`);
  if (s.by) bits.push(`by ${s.by}`);
  return bits.join(" ");
}

// ---- the buttons that start something ----------------------------------------

// WHY is the element every held button's aria-describedby names: the
// reason, in words, while the lever is engaged (see index.html).
const WHY = "lever-why";

const whyText = (s) => `Nothing can start while the safety lever is engaged: ${s.reason || "no reason given"}${s.by ? ` (engaged by ${s.by})` : ""}. Release it on the Safety page.`;

/**
 * startButton marks button as one that starts something the lever
 * refuses (a run, a game day, an overlay). While the lever is engaged it
 * is disabled, its title and description (aria-describedby) say why, and
 * it is enabled again when the lever is released; the page need not
 * follow the lever itself. It returns button.
 */
export function startButton(button) {
  button.dataset.starts = "";
  hold(button);
  return button;
}

/**
 * setBusy marks a start button as waiting for its own request (or no
 * longer); it is enabled only when neither that nor the lever holds it.
 */
export function setBusy(button, busy) {
  button.toggleAttribute("data-busy", !!busy);
  hold(button);
}

/**
 * leverRefused reports whether err is the server refusing a start because
 * of the lever, and if so reads the lever again: the page learnt of it
 * late, and its start buttons hold from now on.
 */
export function leverRefused(err) {
  const code = err && err.body && err.body.error && err.body.error.code;
  if (code !== "lever") return false;
  refreshLever();
  return true;
}

function hold(button) {
  const engaged = !!(state && state.engaged);
  const described = (button.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== WHY);
  if (!("title" in button.dataset)) button.dataset.title = button.getAttribute("title") || "";
  button.disabled = engaged || button.hasAttribute("data-busy");
  if (engaged) {
    button.title = whyText(state);
    described.push(WHY);
  } else if (button.dataset.title) {
    button.title = button.dataset.title;
  } else {
    button.removeAttribute("title");
  }
  if (described.length) button.setAttribute("aria-describedby", described.join(" ")); else button.removeAttribute("aria-describedby");
}

function render() {
  const why = $("#" + WHY);
  if (why) why.textContent = state && state.engaged ? whyText(state) : "";
  for (const b of document.querySelectorAll("button[data-starts]")) hold(b);
  const banner = $("#lever-banner");
  const pill = $("#nav-lever");
  const engaged = !!(state && state.engaged);
  if (pill) {
    pill.hidden = !engaged;
    $("#nav-safety").classList.toggle("nav-engaged", engaged);
  }
  if (!banner) return;
  banner.hidden = !engaged;
  if (!engaged) {
    banner.replaceChildren();
    return;
  }
  banner.replaceChildren(el("div", { class: "lever-banner-inner" },
    el("span", { class: "lever-icon", "aria-hidden": "true" }, "!"),
    el("div", { class: "lever-text" },
      el("strong", {}, "Safety lever engaged: "),
      el("span", { id: "lever-banner-reason" }, state.reason || "no reason given"),
      el("span", { class: "lever-meta" }, ` — ${leverSummary(state)}. Runs, game days and schedule fires are refused until it is released.`)),
    location.hash.startsWith("#/safety") ? null : el("a", { href: "#/safety", class: "btn btn-small lever-manage" }, "Manage the lever")));
}

/** watchLever keeps the banner current while the dashboard is open. */
export function watchLever() {
  refreshLever();
  setInterval(() => { if (!document.hidden) refreshLever(); }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshLever(); });
  // The manage link hides on the lever's own page.
  window.addEventListener("hashchange", render);
}
