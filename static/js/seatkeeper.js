/* Seatkeeper's page scripts. Every page loads this one file after htmx: the
   Content-Security-Policy allows no inline script and no eval, so what pages do
   beyond htmx's attributes lives here, each part keyed to the element it serves.

   - Polls pause while the tab is hidden: an element with data-poll-when-visible
     sends no request then, and "tab-visible" is fired on <body> when the tab
     shows again (the dashboard polls at once on it).
   - The dashboard (#dashboard-poller): the last ETag goes back with each poll so
     an unchanged poll is a bodiless 304; "Updated …" stays honest; a failed poll
     says so instead of going stale quietly, in the page's language: its words
     come from the page (data-poll-failed and data-poll-error-* on #dashboard,
     with {time}, {reason} and {status} for what the script fills in).
   - The orders page (#orders-filter): search as you type and filter on change,
     through the form's own hx-get.
   - The ticket page (#dropped-notice): when a poll closes an item the buyer had
     typed a quantity for (sold out meanwhile), its input is drawn again empty and
     disabled, so the notice names what is no longer in the order.
   - The language switcher ([data-language-switcher]) reloads the page in another
     language: what was typed in a form marked data-keep-on-language-switch comes
     along (in sessionStorage, for that page only), so switching loses nothing. */
(function () {
  "use strict";

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (document.visibilityState === "hidden" && elt.hasAttribute("data-poll-when-visible")) {
      event.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && document.body) {
      htmx.trigger(document.body, "tab-visible");
    }
  });

  function dashboard() {
    var board = document.getElementById("dashboard");
    var poller = document.getElementById("dashboard-poller");
    var errorBox = document.getElementById("dashboard-poll-error");
    if (!board || !poller || !errorBox) { return; }
    var words = board.dataset;
    var clock = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      timeZone: board.dataset.timezone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
    });
    function fill(text, values) {
      return text.replace(/\{(\w+)\}/g, function (whole, name) {
        return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
      });
    }
    function isPoll(event) { return event.detail.elt === poller || event.detail.elt.id === "dashboard-poller"; }
    function now() { return clock.format(new Date()); }
    function fail(reason) {
      errorBox.textContent = fill(words.pollFailed, { time: now(), reason: reason });
      errorBox.hidden = false;
      board.classList.add("is-stale");
    }
    // The poll element is drawn again whenever the server changes its pace: the
    // ETag lives on whichever one is on the page.
    function currentPoller() { return document.getElementById("dashboard-poller") || poller; }
    document.body.addEventListener("htmx:configRequest", function (event) {
      var etag = isPoll(event) && currentPoller().dataset.etag;
      if (etag) { event.detail.headers["If-None-Match"] = etag; }
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (!isPoll(event) || !event.detail.successful) { return; }
      var xhr = event.detail.xhr;
      var etag = xhr.getResponseHeader("ETag");
      if (etag) { currentPoller().dataset.etag = etag; }
      errorBox.hidden = true;
      errorBox.textContent = "";
      board.classList.remove("is-stale");
      if (xhr.status === 304) {
        var updated = document.getElementById("dashboard-updated-at");
        if (updated) { updated.textContent = now(); }
      }
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      if (isPoll(event)) { fail(fill(words.pollErrorStatus, { status: event.detail.xhr.status })); }
    });
    document.body.addEventListener("htmx:sendError", function (event) {
      if (isPoll(event)) { fail(words.pollErrorUnreachable); }
    });
    document.body.addEventListener("htmx:timeout", function (event) {
      if (isPoll(event)) { fail(words.pollErrorTimeout); }
    });
  }

  function droppedWhenClosed() {
    var notice = document.getElementById("dropped-notice");
    if (!notice) { return; }
    var dropped = [];
    document.body.addEventListener("htmx:oobBeforeSwap", function (event) {
      var gate = event.detail.target;
      var fragment = event.detail.fragment;
      if (!gate.classList || !gate.classList.contains("offer-gate") || !fragment.querySelector) { return; }
      var typed = gate.querySelector("input:not([disabled])");
      var next = fragment.querySelector("input");
      if (!typed || !next || !next.disabled || !(Number(typed.value) > 0)) { return; }
      if (dropped.indexOf(gate.dataset.name) === -1) { dropped.push(gate.dataset.name); }
      notice.textContent = notice.dataset.text.replace("{names}", dropped.join(", "));
      notice.hidden = false;
    });
  }

  function ordersFilter() {
    var form = document.getElementById("orders-filter");
    if (!form) { return; }
    var timer = null;
    form.addEventListener("input", function (event) {
      if (event.target.name !== "q") { return; }
      clearTimeout(timer);
      timer = setTimeout(function () { htmx.trigger(form, "submit"); }, 300);
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === "status") { htmx.trigger(form, "submit"); }
    });
  }

  var TYPED_KEY = "seatkeeper-typed:" + location.pathname;
  function keptFields() {
    return document.querySelectorAll(
      "form[data-keep-on-language-switch] input:not([type=hidden]):not([type=submit]), " +
      "form[data-keep-on-language-switch] textarea, form[data-keep-on-language-switch] select"
    );
  }
  function keepTypedAcrossLanguageSwitch() {
    document.addEventListener("submit", function (event) {
      if (!event.target.matches("[data-language-switcher]")) { return; }
      var typed = {};
      keptFields().forEach(function (field) {
        if (field.name && field.value !== "") { typed[field.name] = field.value; }
      });
      try { sessionStorage.setItem(TYPED_KEY, JSON.stringify(typed)); } catch (error) { /* private mode */ }
    });
    var stored = null;
    try {
      stored = sessionStorage.getItem(TYPED_KEY);
      sessionStorage.removeItem(TYPED_KEY);
    } catch (error) { return; }
    if (!stored) { return; }
    var typed = JSON.parse(stored);
    keptFields().forEach(function (field) {
      if (!field.disabled && Object.prototype.hasOwnProperty.call(typed, field.name)) {
        field.value = typed[field.name];
      }
    });
  }

  function start() {
    dashboard();
    ordersFilter();
    droppedWhenClosed();
    keepTypedAcrossLanguageSwitch();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
