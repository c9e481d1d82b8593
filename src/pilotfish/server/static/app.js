// pilotfish chat page: streams /v1/chat/completions (SSE), then shows the numbered citations
// (click one to read the passage) and a badge per verdict (one per checked claim).
"use strict";
const $ = (id) => document.getElementById(id);
const history = [];
let modelName = "pilotfish";

const keyInput = $("api-key");
keyInput.value = localStorage.getItem("pilotfish-api-key") || "";
keyInput.addEventListener("change", () => localStorage.setItem("pilotfish-api-key", keyInput.value));

function headers() {
  const h = { "Content-Type": "application/json" };
  if (keyInput.value) h["Authorization"] = "Bearer " + keyInput.value;
  return h;
}

async function loadModels() {
  try {
    const r = await fetch("/v1/models", { headers: headers() });
    if (!r.ok) { $("model").textContent = r.status === 401 ? "(API key needed: see settings)" : ""; return; }
    const ids = (await r.json()).data.map((m) => m.id);
    const chain = ids.find((id) => id !== "pilotfish");
    $("model").textContent = chain ? "model: " + chain : "";
  } catch (e) { /* the page still works; errors show on send */ }
}

function addTurn(role) {
  const div = document.createElement("div");
  div.className = "turn " + role;
  $("log").appendChild(div);
  return div;
}

function openPassage(c) {
  $("passage-title").textContent = "[" + c.index + "] " + (c.title || c.doc_id || c.id);
  $("passage-meta").textContent = (c.doc_id || c.id) + (c.retriever ? " \u00b7 " + c.retriever : "") +
    (typeof c.score === "number" ? " \u00b7 score " + c.score.toFixed(3) : "");
  $("passage-text").textContent = c.text;
  $("passage").showModal();
}

function renderAnswer(el, text, citations) {
  // turn [n] markers into links that open passage n
  el.textContent = "";
  const re = /\[(\d+)\]/g;
  let last = 0, m;
  while ((m = re.exec(text)) !== null) {
    el.appendChild(document.createTextNode(text.slice(last, m.index)));
    const c = citations.find((x) => x.index === Number(m[1]));
    if (c) {
      const a = document.createElement("a");
      a.className = "cite"; a.textContent = m[0]; a.title = c.title || c.id;
      a.addEventListener("click", () => openPassage(c));
      el.appendChild(a);
    } else {
      el.appendChild(document.createTextNode(m[0]));
    }
    last = re.lastIndex;
  }
  el.appendChild(document.createTextNode(text.slice(last)));
}

function renderExtras(turn, answerEl, extra) {
  const citations = extra.citations || [];
  renderAnswer(answerEl, extra.text || answerEl.textContent, citations);
  if (citations.length) {
    const ol = document.createElement("ol");
    ol.className = "citations";
    for (const c of citations) {
      const li = document.createElement("li");
      li.value = c.index;
      const a = document.createElement("a");
      a.className = "citation"; a.dataset.index = c.index;
      a.textContent = c.title || c.doc_id || c.id;
      a.addEventListener("click", () => openPassage(c));
      li.appendChild(a);
      ol.appendChild(li);
    }
    turn.appendChild(ol);
  }
  const verdicts = extra.verdicts || [];
  if (verdicts.length) {
    const box = document.createElement("div");
    box.className = "verdicts";
    for (const v of verdicts) {
      const b = document.createElement("span");
      b.className = "verdict " + (v.label || (v.passed ? "pass" : "fail"));
      b.dataset.passed = String(v.passed);
      b.textContent = (v.passed ? "\u2713 " : "\u2717 ") + v.label + (v.claim ? ": " + v.claim : "");
      b.title = v.verifier + (typeof v.score === "number" ? " score " + v.score.toFixed(3) : "") +
        (v.evidence ? "\nevidence: " + v.evidence : "") + (v.message ? "\n" + v.message : "");
      box.appendChild(b);
    }
    turn.appendChild(box);
  }
  if (extra.route) {
    const r = document.createElement("div");
    r.className = "muted route";
    r.textContent = "answered by " + extra.route.model + (extra.latency_s ? " in " + extra.latency_s.toFixed(2) + " s" : "") +
      ((extra.repairs || []).length ? " \u00b7 repaired" : "");
    turn.appendChild(r);
  }
}

async function ask(question) {
  history.push({ role: "user", content: question });
  addTurn("user").textContent = question;
  const turn = addTurn("assistant");
  const answerEl = document.createElement("div");
  answerEl.className = "answer streaming";
  turn.appendChild(answerEl);
  $("send").disabled = true;
  let text = "", extra = null;
  try {
    const body = { model: modelName, stream: true, messages: history,
                   max_tokens: Number($("max-tokens").value) || 200 };
    const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!r.ok) {
      const err = await r.json().catch(() => ({ error: { message: r.statusText } }));
      throw new Error(r.status + ": " + err.error.message);
    }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, cut); buf = buf.slice(cut + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (!data || data === "[DONE]") continue;
        const msg = JSON.parse(data);
        if (msg.error) throw new Error(msg.error.message);
        if (msg.pilotfish) extra = msg.pilotfish;
        const delta = msg.choices && msg.choices[0] && msg.choices[0].delta;
        if (delta && delta.content) { text += delta.content; answerEl.textContent = text; $("log").scrollTop = 1e9; }
      }
    }
    answerEl.classList.remove("streaming");
    if (extra) renderExtras(turn, answerEl, extra);
    history.push({ role: "assistant", content: extra ? extra.text : text });
    turn.dataset.done = "true";
  } catch (e) {
    answerEl.classList.remove("streaming");
    const p = document.createElement("div");
    p.className = "error"; p.textContent = "Error " + e.message;
    turn.appendChild(p);
    history.pop();
    turn.dataset.done = "error";
  } finally {
    $("send").disabled = false;
  }
}

$("ask").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("question").value.trim();
  if (!q) return;
  $("question").value = "";
  ask(q);
});
$("question").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("ask").requestSubmit(); }
});
loadModels();
