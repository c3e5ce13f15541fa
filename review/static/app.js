// Transcript timestamps seek the recording; the turn being played is highlighted.
// Plain script, no inline handlers (the Content-Security-Policy allows only files from this site).
(function () {
  "use strict";
  function ready() {
    var player = document.getElementById("player");
    if (!player) { return; }
    var turns = Array.prototype.slice.call(document.querySelectorAll(".turn[data-start]"));
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-seek]");
      if (!button) { return; }
      event.preventDefault();
      player.currentTime = parseFloat(button.getAttribute("data-seek")) || 0;
      var played = player.play();
      if (played && played.catch) { played.catch(function () {}); }
    });
    player.addEventListener("timeupdate", function () {
      var now = player.currentTime;
      turns.forEach(function (turn) {
        var start = parseFloat(turn.getAttribute("data-start"));
        var end = parseFloat(turn.getAttribute("data-end"));
        turn.classList.toggle("turn--playing", now >= start && now < end);
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();

// The review form: "Agree with all" and keyboard shortcuts (a = agree with all, s = mark as
// reviewed, n = save and open the next call), never while the user is typing in a box, and
// not at all once switched off (WCAG 2.1.4: single-key shortcuts can be turned off; the
// choice is kept in this browser).
(function () {
  "use strict";
  var TYPING = /^(text|search|email|number|password|date|url|tel)$/;
  function typing(target) {
    if (!target || !target.tagName) { return false; }
    if (target.isContentEditable) { return true; }
    var tag = target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && TYPING.test(target.type));
  }
  function ready() {
    var form = document.getElementById("review-form");
    var button = document.getElementById("agree-all");
    if (!form || !button) { return; }
    function agreeWithAll() {
      form.querySelectorAll("input[type=radio][name^='tag_'][value='agree']").forEach(function (radio) {
        radio.checked = true;
      });
    }
    function submitWith(action) {
      var submit = form.querySelector("button[name=action][value='" + action + "']");
      if (submit) { submit.click(); }
    }
    var enabled = document.getElementById("shortcuts-on");
    if (enabled) {
      enabled.checked = window.localStorage.getItem("callqa-shortcuts") !== "off";
      enabled.addEventListener("change", function () {
        window.localStorage.setItem("callqa-shortcuts", enabled.checked ? "on" : "off");
      });
    }
    button.addEventListener("click", agreeWithAll);
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || typing(event.target)) {
        return;
      }
      if (enabled && !enabled.checked) { return; }
      var key = event.key.toLowerCase();
      if (key === "a") { agreeWithAll(); } else if (key === "s") { submitWith("reviewed"); } else if (key === "n") { submitWith("next"); } else { return; }
      event.preventDefault();
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
