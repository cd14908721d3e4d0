// The sandbox web chat: act as any demo user, talk to the bot. All text goes in as text nodes.
"use strict";

const I18N = {
  zh: { title: "邻里沙盒", iam: "我是", send: "发送", placeholder: "输入消息…", private: "与机器人私聊",
        group: "群聊", empty: "还没有消息", typing: "正在输入…", joined: "加入了群聊", left: "离开了群聊",
        migrated: "群已升级为超级群", reply: "回复", deleted: "消息已删除", pinned: "📌 已置顶",
        bot_left: "机器人不在这个群里", error: "出错了" },
  en: { title: "Linli sandbox", iam: "I am", send: "Send", placeholder: "Message…", private: "Private chat with the bot",
        group: "Group", empty: "No messages yet", typing: "typing…", joined: "joined the group", left: "left the group",
        migrated: "The group was upgraded to a supergroup", reply: "Reply", deleted: "Message deleted", pinned: "📌 Pinned",
        bot_left: "The bot is not in this group", error: "Error" },
};

const ui = {
  lang: localStorage.getItem("sandbox-lang") || "zh",
  state: null, me: null, chatId: null, messages: new Map(), source: null, replyTo: null, typingTimer: null,
};
const $ = (id) => document.getElementById(id);
const t = (key) => (I18N[ui.lang] || I18N.zh)[key] || key;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child == null) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function nameOf(user) {
  if (!user) return "?";
  return [user.first_name, user.last_name].filter(Boolean).join(" ") || user.username || String(user.id);
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = { ok: false, error: String(e) }; }
  if (!response.ok) throw new Error((ui.lang === "zh" ? body.error_zh : body.error) || body.error || t("error"));
  return body;
}

function toast(text, alert = false) {
  const box = $("toast");
  box.textContent = text;
  box.className = alert ? "alert" : "";
  box.hidden = false;
  clearTimeout(box._timer);
  box._timer = setTimeout(() => { box.hidden = true; }, alert ? 4000 : 2500);
}

function applyLanguage() {
  document.documentElement.lang = ui.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  $("composer-input").placeholder = t("placeholder");
  $("lang-toggle").textContent = ui.lang === "zh" ? "EN" : "中文";
  document.title = t("title");
  renderChats();
  renderMessages();
}

async function loadState() {
  ui.state = await api("/sandbox/api/state");
  const select = $("user-select");
  const previous = ui.me || Number(localStorage.getItem("sandbox-user")) || null;
  select.replaceChildren(...ui.state.users.map((u) => el("option", { value: String(u.id) }, `${nameOf(u)} (${u.id})`)));
  const known = ui.state.users.some((u) => u.id === previous);
  ui.me = known ? previous : (ui.state.users[0] || {}).id;
  if (ui.me != null) select.value = String(ui.me);
  renderChats();
}

function myChats() {
  if (!ui.state || ui.me == null) return [];
  const chats = ui.state.chats.filter((c) => c.id === ui.me || (c.type !== "private" && c.members.includes(ui.me) && !c.migrated_to_chat_id));
  return chats.sort((a, b) => (a.type === "private" ? -1 : b.type === "private" ? 1 : 0));
}

function renderChats() {
  const list = $("chat-list");
  const chats = myChats();
  list.replaceChildren(...chats.map((chat) => el("button", {
    type: "button", class: "chat-item" + (chat.id === ui.chatId ? " active" : ""),
    dataset: { chatId: String(chat.id) }, onclick: () => openChat(chat.id),
  }, chat.type === "private" ? t("private") : chat.title, el("small", {}, chat.type === "private" ? "@" + ui.state.bot.username : t("group")))));
  if (ui.chatId != null && !chats.some((c) => c.id === ui.chatId)) closeChat();
}

function closeChat() {
  ui.chatId = null;
  if (ui.source) ui.source.close();
  ui.messages.clear();
  $("chat-title").textContent = "";
  renderMessages();
}

async function openChat(chatId) {
  ui.chatId = chatId;
  ui.replyTo = null;
  $("reply-bar").hidden = true;
  const chat = ui.state.chats.find((c) => c.id === chatId);
  $("chat-title").textContent = chat ? (chat.type === "private" ? nameOf(ui.state.bot) : chat.title) : "";
  renderChats();
  if (ui.source) ui.source.close();
  const body = await api(`/sandbox/api/transcript?chat_id=${chatId}`);
  if (ui.chatId !== chatId) return;
  ui.messages = new Map(body.messages.map((m) => [m.message_id, m]));
  renderMessages();
  ui.source = new EventSource(`/sandbox/api/events?chat_id=${chatId}&after=${body.event_seq}`);
  ui.source.onmessage = (event) => onEvent(JSON.parse(event.data));
}

function onEvent(event) {
  if (["new", "edit", "delete"].includes(event.type) && event.chat_id === ui.chatId) {
    ui.messages.set(event.message.message_id, event.message);
    renderMessages();
    if (event.message.from && event.message.from.id === ui.state.bot.id) $("typing").hidden = true;
  } else if (event.type === "answer" && event.answer.user_id === ui.me) {
    if (event.answer.text) toast(event.answer.text, event.answer.show_alert);
  } else if (event.type === "action" && event.chat_id === ui.chatId) {
    $("typing").textContent = t("typing");
    $("typing").hidden = false;
    clearTimeout(ui.typingTimer);
    ui.typingTimer = setTimeout(() => { $("typing").hidden = true; }, 5000);
  } else if (["members", "users", "reset"].includes(event.type)) {
    loadState().catch((e) => toast(e.message));
  }
}

function serviceText(m) {
  if (m.new_chat_members) return m.new_chat_members.map(nameOf).join(", ") + " " + t("joined");
  if (m.left_chat_member) return nameOf(m.left_chat_member) + " " + t("left");
  if (m.migrate_to_chat_id || m.migrate_from_chat_id) return t("migrated");
  return null;
}

function renderMessage(m) {
  const service = serviceText(m);
  const fromBot = m.from && m.from.id === ui.state.bot.id;
  const mine = m.from && m.from.id === ui.me && !m.sender_chat;
  const classes = ["msg", service ? "service" : fromBot ? "from-bot" : mine ? "from-me" : "from-other"];
  if (m.deleted) classes.push("deleted");
  const node = el("div", { class: classes.join(" "), dataset: { messageId: String(m.message_id) } });
  if (service) { node.append(service); return node; }
  if (!mine) node.append(el("div", { class: "sender" }, m.sender_chat ? (m.sender_chat.title || "") : nameOf(m.from)));
  if (m.reply_to_message) {
    const r = m.reply_to_message;
    node.append(el("div", { class: "quote" }, nameOf(r.from) + ": " + (r.text || r.caption || "📎")));
  }
  if (m.photo && m.photo.length) {
    node.append(el("img", { class: "photo", alt: "photo", src: `/sandbox/api/file/${encodeURIComponent(m.photo[m.photo.length - 1].file_id)}` }));
  }
  if (m.document) {
    node.append(el("a", { href: `/sandbox/api/file/${encodeURIComponent(m.document.file_id)}`, download: m.document.file_name || "file" }, "📄 " + (m.document.file_name || "file")));
  }
  if (m.voice) {
    const src = `/sandbox/api/file/${encodeURIComponent(m.voice.file_id)}`;
    node.append(el("div", { class: "voice" }, `🎤 ${m.voice.duration || 0}″ `, el("audio", { controls: "", preload: "none", src })));
  }
  const text = m.text != null ? m.text : m.caption;
  if (text) node.append(el("div", { class: "text" }, text));
  const markup = m.reply_markup && m.reply_markup.inline_keyboard;
  if (markup) {
    const keyboard = el("div", { class: "inline-keyboard" });
    for (const row of markup) {
      keyboard.append(el("div", { class: "inline-row" }, ...row.map((b) => inlineButton(m, b))));
    }
    node.append(keyboard);
  }
  const time = new Date(m.date * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  node.append(el("div", { class: "meta" }, m.pinned ? el("span", { class: "pinned" }, t("pinned") + " ") : null,
    time + (m.edit_date ? " ✎" : ""),
    el("button", { type: "button", title: t("reply"), onclick: () => setReply(m) }, "↩")));
  return node;
}

// A t.me deep link to the bot (https://t.me/<bot>?start=<payload>) does what the Telegram
// app does: open the private chat with the bot and send "/start <payload>".
function deepLinkPayload(url) {
  try {
    const link = new URL(url);
    const bot = ui.state && ui.state.bot && ui.state.bot.username;
    if (!bot || !["t.me", "telegram.me"].includes(link.hostname)) return null;
    if (link.pathname.replace(/^\//, "").toLowerCase() !== bot.toLowerCase()) return null;
    return link.searchParams.has("start") ? link.searchParams.get("start") : "";
  } catch (e) { return null; }
}

async function followDeepLink(payload) {
  await openChat(ui.me);
  await sendText(payload ? `/start ${payload}` : "/start");
}

function inlineButton(message, button) {
  if (button.url && deepLinkPayload(button.url) !== null) {
    const payload = deepLinkPayload(button.url);
    return el("button", { type: "button", class: "inline-btn", dataset: { url: button.url },
      onclick: () => followDeepLink(payload) }, button.text + " ↗");
  }
  if (button.url) return el("a", { class: "inline-btn", href: button.url, target: "_blank", rel: "noopener" }, button.text + " ↗");
  if (button.callback_data == null) return el("button", { type: "button", class: "inline-btn", disabled: "" }, button.text);
  return el("button", {
    type: "button", class: "inline-btn", dataset: { callback: button.callback_data },
    onclick: () => press(message.message_id, button.callback_data),
  }, button.text);
}

function renderMessages() {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const list = [...ui.messages.values()].sort((a, b) => a.message_id - b.message_id);
  if (!ui.state || ui.chatId == null) { box.replaceChildren(); renderKeyboard([]); return; }
  box.replaceChildren(...(list.length ? list.map(renderMessage) : [el("div", { class: "empty" }, t("empty"))]));
  if (atBottom || list.length < 30) box.scrollTop = box.scrollHeight;
  renderKeyboard(list);
}

function renderKeyboard(list) {
  const area = $("reply-keyboard");
  const last = [...list].reverse().find((m) => !m.deleted && m.keyboard && m.from.id === ui.state.bot.id);
  const keyboard = last && last.keyboard.keyboard && !(last.keyboard.one_time_keyboard && ui.usedKeyboard === last.message_id);
  if (!keyboard) { area.hidden = true; area.replaceChildren(); return; }
  area.replaceChildren(...last.keyboard.keyboard.map((row) => el("div", { class: "kb-row" },
    ...row.map((b) => el("button", { type: "button", onclick: () => { ui.usedKeyboard = last.message_id; sendText(b.text); } }, b.text)))));
  area.hidden = false;
}

function setReply(message) {
  ui.replyTo = message.message_id;
  $("reply-text").textContent = `${t("reply")} ${nameOf(message.from)}: ${(message.text || message.caption || "").slice(0, 40)}`;
  $("reply-bar").hidden = false;
  $("composer-input").focus();
}

async function sendText(text) {
  if (!text || ui.chatId == null) return;
  const payload = { chat_id: ui.chatId, user_id: ui.me, text };
  if (ui.replyTo) payload.reply_to_message_id = ui.replyTo;
  try {
    await api("/sandbox/api/send", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
    ui.replyTo = null;
    $("reply-bar").hidden = true;
  } catch (e) { toast(e.message); }
}

async function sendPhoto(file) {
  if (!file || ui.chatId == null) return;
  const form = new FormData();
  form.append("chat_id", String(ui.chatId));
  form.append("user_id", String(ui.me));
  const caption = $("composer-input").value.trim();
  if (caption) form.append("caption", caption);
  form.append("photo", file, file.name);
  try {
    await api("/sandbox/api/send", { method: "POST", body: form });
    $("composer-input").value = "";
  } catch (e) { toast(e.message); }
  $("photo-input").value = "";
}

async function press(messageId, data) {
  try {
    await api("/sandbox/api/press", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ chat_id: ui.chatId, user_id: ui.me, message_id: messageId, data }) });
  } catch (e) { toast(e.message); }
}

function setup() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("composer-input");
    const text = input.value.trim();
    input.value = "";
    sendText(text);
  });
  $("photo-input").addEventListener("change", (event) => sendPhoto(event.target.files[0]));
  $("reply-cancel").addEventListener("click", () => { ui.replyTo = null; $("reply-bar").hidden = true; });
  $("user-select").addEventListener("change", (event) => {
    ui.me = Number(event.target.value);
    localStorage.setItem("sandbox-user", String(ui.me));
    closeChat();
    renderChats();
  });
  $("lang-toggle").addEventListener("click", () => {
    ui.lang = ui.lang === "zh" ? "en" : "zh";
    localStorage.setItem("sandbox-lang", ui.lang);
    applyLanguage();
  });
  applyLanguage();
  loadState().then(() => {
    const chats = myChats();
    if (chats.length) openChat(chats[0].id);
  }).catch((e) => toast(e.message));
}

setup();
