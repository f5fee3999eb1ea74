"""Which language a session sees: ``?lang=ko|en`` in the address, else the browser's language, else English; the
sidebar's switch changes it and writes it into the address, so a shared link keeps it."""

from __future__ import annotations

import json

import streamlit as st

from ui.i18n import DEFAULT, LANG_KEY, LANGUAGES, N_, _

# Labels that Streamlit's and the drawing canvas's own scripts write in English, which no Python call can set: the
# "?" icons' aria-label ("Help for Seed") and the canvas toolbar's tooltips. The page's script rewrites them.
BROWSER_LABELS = (N_("Help"), N_("Update the app with this drawing"), N_("Undo"), N_("Redo"), N_("Edit"),
                  N_("Bring forward"), N_("Send backward"), N_("Delete selected"), N_("Reset canvas & history"),
                  N_("Sidebar"), N_("Collapse sidebar"), N_("Expand sidebar"), N_("App pages"),
                  N_("Link to heading"))
HELP_FOR = N_("Help for {label}")
# Watches the page (and the components' frames of the same origin) and writes each known label in the session's
# language; the page's <html lang> follows, so a screen reader reads Korean as Korean.
LABELS_SCRIPT = """<script>
(() => {
  const top = window.parent && window.parent.document ? window.parent : window;
  const state = top.__fmnistLabels = top.__fmnistLabels || {roots: new Set()};
  Object.assign(state, %s);
  const fix = (el, attr) => {
    const v = el.getAttribute(attr);
    if (!v) return;
    let t = state.table[v];
    if (t === undefined && v.startsWith("Help for ") && state.helpFor) t = state.helpFor.replace("{label}", v.slice(9));
    if (t !== undefined && t !== v) el.setAttribute(attr, t);
  };
  const sweep = node => {
    if (node.nodeType !== 1) return;
    [node, ...node.querySelectorAll("*")].forEach(el => {
      fix(el, "aria-label"); fix(el, "title");
      if (el.shadowRoot) watch(el.shadowRoot);
      if (el.tagName === "IFRAME") {
        const frame = () => { try { watch(el.contentDocument); } catch (e) {} };
        frame();
        el.addEventListener("load", frame);
      }
    });
  };
  const watch = root => {
    if (!root) return;
    const doc = root.nodeType === 9;
    if (doc) root.documentElement.lang = state.lang;
    const body = doc ? root.body : root;
    if (!body) return;
    body.childNodes.forEach(sweep);
    if (state.roots.has(root)) return;
    state.roots.add(root);
    new MutationObserver(records => records.forEach(r => {
      if (r.type === "attributes") { fix(r.target, "aria-label"); fix(r.target, "title"); }
      else r.addedNodes.forEach(sweep);
    })).observe(body, {subtree: true, childList: true, attributes: true, attributeFilter: ["aria-label", "title"]});
    if (doc && !root.defaultView.__fmnistShadow) {  // components draw into shadow roots made later
      const proto = root.defaultView.Element.prototype, attach = proto.attachShadow;
      root.defaultView.__fmnistShadow = true;
      proto.attachShadow = function (...args) {
        const made = attach.apply(this, args);
        queueMicrotask(() => watch(made));
        return made;
      };
    }
  };
  watch(document);
  state.roots.forEach(watch);
})();
</script>"""

SWITCH_KEY = "lang_switch"


def choose_language() -> str:
    state = st.session_state
    asked = st.query_params.get("lang")
    if asked in LANGUAGES:
        state[LANG_KEY] = asked
    elif state.get(LANG_KEY) not in LANGUAGES:
        browser = (st.context.locale or "").lower()
        state[LANG_KEY] = next((code for code in LANGUAGES if browser.startswith(code)), DEFAULT)
    return state[LANG_KEY]


def _switched() -> None:
    lang = st.session_state[SWITCH_KEY] or st.session_state[LANG_KEY]
    st.session_state[LANG_KEY] = lang
    st.query_params["lang"] = lang


def language_switch() -> None:
    """Two buttons at the foot of the sidebar, each language named in itself, so either reader finds theirs."""
    st.session_state[SWITCH_KEY] = st.session_state[LANG_KEY]
    st.sidebar.segmented_control(_("Language"), list(LANGUAGES), format_func=LANGUAGES.get, key=SWITCH_KEY,
                                 on_change=_switched)
    st.sidebar.html(labels_script(st.session_state[LANG_KEY]), unsafe_allow_javascript=True)


def labels_script(lang: str) -> str:
    """The script that writes the browser-made labels in `lang` (English: it leaves them as they are)."""
    table = {} if lang == DEFAULT else {label: _(label) for label in BROWSER_LABELS}
    state = {"lang": lang, "table": table, "helpFor": None if lang == DEFAULT else _(HELP_FOR, label="{label}")}
    return LABELS_SCRIPT % json.dumps(state, ensure_ascii=False)
