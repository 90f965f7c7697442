/* The Notifications panel of Settings: Discord link state, switches, test DM, browser push. */
(function () {
  "use strict";
  const panel = document.getElementById("notifications-panel");
  if (!panel) return;
  const $ = (id) => document.getElementById(id);
  const URL_SETTINGS = panel.dataset.settingsUrl || "/api/settings/";
  let state = null;

  function api(url, opts) { return window.JT.api(url, opts || {}); }
  function toast(m, k) { if (window.JT && window.JT.toast) window.JT.toast(m, k); }

  function text(el, value) { if (el) el.textContent = value; }
  // style.display, not the hidden attribute: .btn's display rule would override [hidden].
  function show(el, yes) { if (el) { el.hidden = !yes; el.style.display = yes ? "" : "none"; } }

  function render(s) {
    state = s;
    const d = s.discord;
    if (!d.bot_configured) {
      text($("discord-state"), "Discord DMs are not configured on this server (the operator sets DISCORD_BOT_TOKEN).");
    } else if (d.linked) {
      text($("discord-state"), `Linked as ${d.username}.`);
    } else if (d.oauth_configured) {
      text($("discord-state"), "Not linked. Link your Discord account to get DMs from the bot.");
    } else {
      text($("discord-state"), "Discord linking is not configured on this server (DISCORD_CLIENT_ID / DISCORD_CLIENT_SECRET).");
    }
    show($("discord-error"), !!d.error);
    text($("discord-error"), d.error || "");
    show($("discord-link-form"), !d.linked && d.oauth_configured);
    show($("discord-test"), d.linked && d.bot_configured);
    show($("discord-unlink"), d.linked);
    // Without a bot on this server no DM can go out: its switches say so and do not move.
    const noBot = !d.bot_configured;
    $("discord-enabled").checked = d.enabled && !noBot;
    $("discord-enabled").disabled = noBot;
    $("discord-enabled").closest("label").title = noBot ? "Not available: this server has no Discord bot." : "";
    $("push-enabled").checked = s.push.enabled;
    $("include-paper").checked = s.include_paper;
    $("daily-summary-time").value = s.daily_summary_time;
    text($("summary-tz"), s.timezone);

    $("weekly-summary-day").value = String(s.weekly_summary.weekday);
    $("weekly-summary-time").value = s.weekly_summary.time;

    // One row per kind, a switch per channel: what arrives on Discord, what on this phone.
    const kinds = $("notification-kinds").querySelector("tbody");
    kinds.replaceChildren();
    let group = "";
    s.kinds.forEach((k) => {
      if (k.group !== group) {
        group = k.group;
        const head = document.createElement("tr");
        const th = document.createElement("th");
        th.colSpan = 3; th.className = "kind-group"; th.textContent = group;
        head.append(th); kinds.append(head);
      }
      const tr = document.createElement("tr");
      tr.dataset.kindRow = k.kind;
      const name = document.createElement("td");
      name.textContent = k.label;
      tr.append(name);
      ["discord", "push"].forEach((channel) => {
        const td = document.createElement("td");
        td.className = "num";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.checked = k[channel] && !(channel === "discord" && noBot);
        box.disabled = channel === "discord" && noBot;
        box.dataset.kind = k.kind;
        box.dataset.channel = channel;
        box.setAttribute("aria-label", `${k.label}: ${channel === "discord" ? "Discord" : "push"}`);
        box.addEventListener("change", () => save({ kinds: { [k.kind]: { [channel]: box.checked } } }));
        td.append(box);
        tr.append(td);
      });
      kinds.append(tr);
    });

    const devices = $("push-devices");
    devices.replaceChildren();
    if (!s.push.devices.length) {
      const li = document.createElement("li");
      li.className = "muted"; li.textContent = "No device receives push notifications yet.";
      devices.append(li);
    }
    s.push.devices.forEach((d) => {
      const li = document.createElement("li");
      li.dataset.device = d.id;
      const what = document.createElement("span");
      what.textContent = `${d.device} · since ${JT.fmtTime(d.created_at)}` + (d.last_error ? ` · ${d.last_error}` : "");
      const remove = document.createElement("button");
      remove.type = "button"; remove.className = "btn btn-sm btn-ghost"; remove.textContent = "Remove";
      remove.dataset.removeDevice = d.id;
      remove.addEventListener("click", async () => {
        if (!window.confirm(`Stop push notifications to ${d.device}?`)) return;
        try {
          render(await api(`/api/push/subscriptions/${d.id}/`, { method: "DELETE" }));
          toast("Device removed.", "success");
        } catch (e) { toast(e.message, "error"); }
      });
      li.append(what, " ", remove);
      devices.append(li);
    });

    const body = $("recent-notifications").querySelector("tbody");
    body.replaceChildren();
    if (!s.recent.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 4; td.className = "empty"; td.textContent = "None yet.";
      tr.append(td); body.append(tr);
    }
    s.recent.forEach((n) => {
      const tr = document.createElement("tr");
      const cells = [JT.fmtTime(n.created_at), n.channel === "discord" ? "Discord" : "Push", n.title];
      cells.forEach((c) => { const td = document.createElement("td"); td.textContent = c; tr.append(td); });
      const td = document.createElement("td");
      const badge = document.createElement("span");
      badge.className = "badge " + ({ sent: "badge-green", failed: "badge-red", pending: "badge-yellow" }[n.status] || "badge-gray");
      badge.textContent = n.status;
      if (n.error) badge.title = n.error;
      td.append(badge);
      tr.append(td);
      body.append(tr);
    });
    refreshPushState();
  }

  async function load() {
    try { render(await api(URL_SETTINGS)); } catch (e) { toast(e.message, "error"); }
  }

  async function save(changes) {
    try {
      render(await api(URL_SETTINGS, { method: "PUT", body: changes }));
      toast("Notification settings saved.", "success");
    } catch (e) { toast(e.message, "error"); load(); }
  }

  $("discord-enabled").addEventListener("change", async (e) => {
    try { render(await api("/api/settings/discord-toggle/", { method: "POST", body: { enabled: e.target.checked } })); }
    catch (err) { toast(err.message, "error"); load(); }
  });
  $("push-enabled").addEventListener("change", async (e) => {
    try { render(await api("/api/profiles/toggle-push-notification/", { method: "POST", body: { enabled: e.target.checked } })); }
    catch (err) { toast(err.message, "error"); load(); }
  });
  $("include-paper").addEventListener("change", (e) => save({ include_paper: e.target.checked }));
  $("daily-summary-time").addEventListener("change", (e) => { if (e.target.value) save({ daily_summary_time: e.target.value }); });
  $("weekly-summary-day").addEventListener("change", (e) => save({ weekly_summary_weekday: Number(e.target.value) }));
  $("weekly-summary-time").addEventListener("change", (e) => { if (e.target.value) save({ weekly_summary_time: e.target.value }); });
  $("discord-test").addEventListener("click", async () => {
    try {
      await api("/api/settings/test-dm/", { method: "POST", body: {} });
      toast("Test DM on its way — check Discord.", "success");
      window.setTimeout(load, 3000);
    } catch (e) { toast(e.message, "error"); }
  });
  $("discord-unlink").addEventListener("click", async () => {
    if (!window.confirm("Unlink your Discord account? DMs stop until you link it again.")) return;
    try { render(await api("/api/settings/discord-unlink/", { method: "POST", body: {} })); }
    catch (e) { toast(e.message, "error"); }
  });

  // --- browser push ---------------------------------------------------------------------------
  const pushSupported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

  function keyBytes(b64url) {
    const pad = "=".repeat((4 - (b64url.length % 4)) % 4);
    const raw = atob((b64url + pad).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  async function currentSubscription() {
    if (!pushSupported) return null;
    const reg = await navigator.serviceWorker.getRegistration("/");
    return reg ? reg.pushManager.getSubscription() : null;
  }

  async function refreshPushState() {
    if (window.JT.isIOS && !window.JT.isStandalone) {
      text($("push-state"), "On iPhone and iPad, push works in the app: Share → Add to Home Screen, then open Just.Trades from the Home Screen and enable push there.");
      show($("push-subscribe"), false); show($("push-unsubscribe"), false);
      return;
    }
    if (!pushSupported) {
      text($("push-state"), "This browser does not support push notifications.");
      show($("push-subscribe"), false); show($("push-unsubscribe"), false);
      return;
    }
    const sub = await currentSubscription();
    const count = state ? state.push.subscriptions : 0;
    text($("push-state"), sub ? `This browser receives push notifications (${count} device(s) in total).`
      : (Notification.permission === "denied" ? "Notifications are blocked for this site in the browser's settings."
        : `This browser is not subscribed (${count} other device(s)).`));
    show($("push-subscribe"), !sub && Notification.permission !== "denied");
    show($("push-unsubscribe"), !!sub);
  }

  $("push-subscribe").addEventListener("click", async () => {
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") { toast("Notifications were not allowed.", "error"); return; }
      const reg = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
      await navigator.serviceWorker.ready;
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(state.push.vapid_public_key) });
      render(await api("/api/push/subscriptions/", { method: "POST", body: sub.toJSON() }));
      toast("Push notifications enabled on this browser.", "success");
    } catch (e) { toast(e.message || String(e), "error"); }
  });
  $("push-unsubscribe").addEventListener("click", async () => {
    try {
      const sub = await currentSubscription();
      if (sub) {
        const endpoint = sub.endpoint;
        await sub.unsubscribe();
        render(await api("/api/push/subscriptions/", { method: "DELETE", body: { endpoint } }));
      }
      toast("Push notifications disabled on this browser.", "success");
    } catch (e) { toast(e.message || String(e), "error"); }
  });

  document.addEventListener("jt:reconnected", load);
  document.addEventListener("jt:event", (e) => { if (e.detail.type === "toast") window.setTimeout(load, 500); });
  load();
})();
