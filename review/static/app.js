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
