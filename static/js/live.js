/* Live updates: one WebSocket per tab at /ws/live/, re-dispatched as DOM events.
 *
 *   document.addEventListener("jt:event", (e) => { e.detail.type; e.detail.data; });
 *   document.addEventListener("jt:reconnected", () => { refetch state over REST });
 *
 * Channel layers deliver at most once, and nothing is delivered before the socket is open, so
 * on every open (the first one too: the page was drawn before it) the page re-fetches its state.
 */
(function () {
  "use strict";
  const statusEl = document.getElementById("live-status");
  const LABELS = { connecting: "● connecting", live: "● live", offline: "● offline", signedout: "● signed out" };
  let socket = null;
  let attempt = 0;
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

  // Timeline events that a trader must see at once, whatever page is open (data.data.event).
  const EVENT_TOASTS = {
    alert_rejected: (d) => `Alert rejected: ${d.reason || ""}`,
    signal_dropped: (d) => `Signal dropped: ${d.reason || "too old"}`,
    order_failed: (d) => `Order failed: ${[d.reason, d.text].filter(Boolean).join(" — ")}`,
    protection_lost: (d) => `Stop or target lost: ${d.reason || ""}`,
    daily_loss_limit: (d) => `Daily loss limit reached (${d.account || ""})`,
    trading_paused: (d) => `Trading paused: ${d.reason || "the broker asked for a CAPTCHA"}`,
    broker_login_failed: (d) => `Broker login failed: ${d.error || ""}`,
    account_refresh_failed: (d) => `Account refresh failed: ${d.error || ""}`,
    recorder_account_unreadable: (d) => `Recorder cannot read its account: ${d.error || ""}`,
  };
  // A rejection arrives twice (the signal row and its timeline line): one toast per signal.
  const toldRejections = new Set();
  function rejectionOnce(signalId) {
    if (signalId === undefined || signalId === null || signalId === "") return true;
    const key = String(signalId);
    if (toldRejections.has(key)) return false;
    toldRejections.add(key);
    return true;
  }

  function toastFor(type, data) {
    if (!data || typeof data !== "object") return;
    const line = type === "log" && data.data && typeof data.data === "object" ? data.data : null;
    if (line && EVENT_TOASTS[line.event]) {
      if (line.event === "alert_rejected" && !rejectionOnce(line.signal_id || data.signal_id)) return;
      toast(EVENT_TOASTS[line.event](line), "error");
      return;
    }
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
      if (rejectionOnce(data.id)) toast(`Alert rejected: ${data.reason || ""}`, "error");
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
      // What happened between the page's drawing (or the last drop) and now was never sent.
      document.dispatchEvent(new CustomEvent("jt:reconnected"));
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
