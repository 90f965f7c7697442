/* The installable app: the service worker on every page, so "Add to Home Screen" (and, on iOS,
   web push from the home-screen app) works from wherever the trader is. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {
      /* a browser that refuses (private mode): the site works without it */
    });
  });
  window.JT = window.JT || {};
  // iOS delivers web push only to the app added to the Home Screen.
  window.JT.isIOS = /iPhone|iPad|iPod/.test(navigator.userAgent);
  window.JT.isStandalone = window.matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
})();
