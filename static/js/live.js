/* Live updates: one WebSocket per tab at /ws/live/, re-dispatched as DOM events.
 *
 *   document.addEventListener("jt:event", (e) => { e.detail.type; e.detail.data; });
 *   document.addEventListener("jt:reconnected", () => { refetch state over REST });
 *
 * Channel layers deliver at most once, so after any reconnect the page re-fetches its state.
 */
(function () {
  "use strict";
  const statusEl = document.getElementById("live-status");
  const LABELS = { connecting: "● connecting", live: "● live", offline: "● offline", signedout: "● signed out" };
  let socket = null;
  let attempt = 0;
  let everConnected = false;
  let retryTimer = null;
  let pingTimer = null;
  let stopped = false;

  function setState(state, detail) {
    if (!statusEl) return;
    statusEl.dataset.state = state;
    statusEl.textContent = LABELS[state] || state;
    statusEl.title = detail || (state === "live" ? "Live updates connected" : "Live updates: " + state);
  }

  function toast(message, kind) {
    if (window.JT && typeof window.JT.toast === "function") window.JT.toast(message, kind);
  }

  function num(x) {
    const n = Number(x);
    return Number.isFinite(n) ? String(n) : String(x == null ? "" : x);
  }

  function toastFor(type, data) {
    if (!data || typeof data !== "object") return;
    if (type === "fill") {
      const side = String(data.action || data.side || "").toUpperCase();
      const where = data.account || data.account_name || "";
      toast(`Filled: ${side} ${num(data.quantity || data.qty)} ${data.symbol || ""} @ ${num(data.price)}` + (where ? ` · ${where}` : ""), "success");
    } else if (type === "order") {
      const status = String(data.status || "").toLowerCase();
      if (status === "rejected" || status === "failed" || status === "error") {
        toast(`Order ${status}: ${data.text || data.reject_reason || data.symbol || ""}`, "error");
      }
    } else if (type === "log" && String(data.kind || "") === "error") {
      toast(data.message || "Error", "error");
    } else if (type === "signal" && String(data.status || "") === "rejected") {
      toast(`Alert rejected: ${data.reason || ""}`, "error");
    } else if (type === "toast") {
      toast(data.message || "", data.kind || "info");
    }
  }

  function wsUrl() {
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${window.location.host}/ws/live/`;
  }

  function scheduleReconnect() {
    if (stopped || retryTimer) return;
    // 1 s, 2 s, 4 s … capped at 30 s, with jitter so a server restart is not stampeded.
    const base = Math.min(30000, 1000 * Math.pow(2, attempt));
    const delay = base / 2 + Math.random() * base / 2;
    attempt += 1;
    setState("offline", `Reconnecting in ${Math.round(delay / 1000)} s`);
    retryTimer = window.setTimeout(() => { retryTimer = null; connect(); }, delay);
  }

  function connect() {
    if (stopped) return;
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return;
    setState("connecting");
    try {
      socket = new WebSocket(wsUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", () => {
      attempt = 0;
      setState("live");
      window.clearInterval(pingTimer);
      pingTimer = window.setInterval(() => {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 25000);
      if (everConnected) document.dispatchEvent(new CustomEvent("jt:reconnected"));
      everConnected = true;
    });
    socket.addEventListener("message", (msg) => {
      let event;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      if (!event || typeof event.type !== "string" || event.type === "hello" || event.type === "pong") return;
      document.dispatchEvent(new CustomEvent("jt:event", { detail: { type: event.type, data: event.data || {} } }));
      toastFor(event.type, event.data);
    });
    socket.addEventListener("close", (e) => {
      window.clearInterval(pingTimer);
      if (e.code === 4401) {  // the session ended: log in again
        stopped = true;
        setState("signedout", "Your session ended; reload to log in again");
        return;
      }
      scheduleReconnect();
    });
    socket.addEventListener("error", () => { /* close follows */ });
  }

  // Come back at once when the network or the tab returns, instead of waiting for the backoff.
  function nudge() {
    if (stopped) return;
    if (!socket || socket.readyState === WebSocket.CLOSED) {
      window.clearTimeout(retryTimer);
      retryTimer = null;
      attempt = 0;
      connect();
    }
  }
  window.addEventListener("online", nudge);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) nudge(); });

  window.JT = window.JT || {};
  window.JT.live = { reconnect: nudge, state: () => (statusEl ? statusEl.dataset.state : "") };
  connect();
})();
