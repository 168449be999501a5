// The workbench: answers, autosaved drafts, active time and the lease, submit, skip and
// release, model generations, keyboard shortcuts, what the authenticity signal needs
// (characters pasted and typed, time spent typing), and the review form's reject reasons.
// Nothing typed is lost: every change is kept in this browser at once and saved to the server
// shortly after; a failed call keeps it.

import { api, ApiError, uuid } from "./api.js";
import * as label from "./q/label.js";
import * as multi_label from "./q/multi_label.js";
import * as rating from "./q/rating.js";
import * as rubric from "./q/rubric.js";
import * as ranking from "./q/ranking.js";
import * as pairwise from "./q/pairwise.js";
import * as text from "./q/text.js";
import * as step_review from "./q/step_review.js";
import { generate } from "./generate.js";

const KINDS = { label, multi_label, rating, rubric, ranking, pairwise, text, step_review };
const boot = JSON.parse(document.getElementById("boot").textContent);
const wb = document.getElementById("wb");
const live = wb.dataset.live === "true";
const form = document.getElementById("answer-form");
const questions = [...document.querySelectorAll("#questions .question")];
const isReview = boot.stage === "review";
const draftKey = `inlier.draft.${boot.assignment_id}`;
const idemKey = `inlier.idem.${boot.assignment_id}`;
const authKey = `inlier.auth.${boot.assignment_id}`;
const saveStatus = document.getElementById("save-status");
const formError = document.getElementById("form-error");
// The latest generation of each generated field; the submission names them.
const generationIds = { ...(boot.generation_ids || {}) };

const kindOf = (el) => KINDS[el.dataset.type];
// Server time minus this browser's: lease deadlines and save times are the server's.
const clockSkew = Date.parse(boot.now) - Date.now();

// ---- answers ------------------------------------------------------------------------------

function readAnswer() {
  const answer = {};
  for (const el of questions) {
    const v = kindOf(el).read(el);
    if (v !== undefined) answer[el.dataset.question] = v;
  }
  return answer;
}

function writeAnswer(answer) {
  for (const el of questions) kindOf(el).write(el, answer?.[el.dataset.question]);
}

function verdictInput() {
  return form.querySelector('input[name="verdict"]:checked');
}

function readReview() {
  const verdict = verdictInput()?.value ?? null;
  const feedback = form.querySelector("#review-feedback").value;
  const score = form.querySelector('input[name="score"]:checked')?.value;
  const reason_code = form.querySelector("#reason-code").value || null;
  return { verdict, feedback, score: score ? Number(score) : null, reason_code, answer: readAnswer() };
}

function writeReview(draft) {
  for (const i of form.querySelectorAll('input[name="verdict"]')) i.checked = i.value === draft?.verdict;
  form.querySelector("#review-feedback").value = draft?.feedback ?? "";
  form.querySelector("#reason-code").value = draft?.reason_code ?? "";
  for (const i of form.querySelectorAll('input[name="score"]')) i.checked = Number(i.value) === draft?.score;
  writeAnswer(draft?.answer ?? boot.under_review ?? {});
  syncReview();
}

// A reviewer edits the answer only to improve it; otherwise it is shown, not changed. A reject
// asks for its reason.
function syncReview() {
  if (!isReview) return;
  const verdict = verdictInput()?.value;
  const improving = verdict === "improve";
  for (const el of questions) el.disabled = !improving || !live;
  document.getElementById("questions").classList.toggle("locked", !improving);
  document.getElementById("reject-reason").hidden = verdict !== "reject";
  document.getElementById("feedback-required").hidden = verdict !== "reject";
}

function draftBody() {
  return isReview ? readReview() : readAnswer();
}

// ---- drafts -------------------------------------------------------------------------------

let saveTimer = null;
let saving = Promise.resolve();
let dirty = false;

function showSaved(text, cls = "") {
  saveStatus.textContent = text;
  saveStatus.className = cls || "muted";
}

function keepLocally() {
  const body = draftBody();
  localStorage.setItem(draftKey, JSON.stringify({ at: Date.now(), body, generations: generationIds }));
}

function scheduleSave() {
  if (!live) return;
  dirty = true;
  keepLocally();
  showSaved("Unsaved changes…");
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveNow, 800);
}

async function saveNow() {
  clearTimeout(saveTimer);
  if (!dirty || !live) return;
  dirty = false;
  const body = draftBody();
  saving = saving.then(async () => {
    try {
      await api("PUT", `/assignments/${boot.assignment_id}/draft`, { answer: body });
      showSaved(`Draft saved ${new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`);
    } catch (err) {
      dirty = true;
      if (err instanceof ApiError && err.status === 409) endedElsewhere(err.message);
      else showSaved("Not saved to the server yet; kept in this browser", "warn");
    }
  });
  return saving;
}

function restore() {
  let local = null;
  try { local = JSON.parse(localStorage.getItem(draftKey) || "null"); } catch { local = null; }
  const server = boot.draft;
  // The browser's copy wins when the last save did not reach the server; the server's when it
  // was saved later (from another tab or device).
  const serverAt = boot.draft_saved_at ? Date.parse(boot.draft_saved_at) - clockSkew : 0;
  if (local && server && serverAt > local.at) local = null;
  const body = local?.body ?? server ?? null;
  if (isReview) writeReview(body);
  else if (body) writeAnswer(body);
  if (body) showSaved(local ? "Draft restored from this browser" : "Draft restored");
  if (local && live) { dirty = true; saveTimer = setTimeout(saveNow, 500); }
}

// ---- active time and the lease ------------------------------------------------------------

let expiresAt = Date.parse(boot.expires_at);
let activeSeconds = boot.active_seconds || 0;
let lastActivity = Date.now();
let reportedSeconds = activeSeconds;
const leaseLeft = document.getElementById("lease-left");
const activeEl = document.getElementById("active-time");

function fmt(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

for (const ev of ["keydown", "pointerdown", "pointermove", "wheel", "scroll", "input"]) {
  window.addEventListener(ev, () => { lastActivity = Date.now(); }, { passive: true, capture: true });
}

// Only time with the tab visible, focused and in use counts (idle after a minute).
function isActive() {
  return document.visibilityState === "visible" && document.hasFocus() && Date.now() - lastActivity < 60_000;
}

async function heartbeat() {
  if (!live || activeSeconds === reportedSeconds) return;
  try {
    const { data } = await api("POST", `/assignments/${boot.assignment_id}/heartbeat`, { active_seconds: activeSeconds });
    reportedSeconds = data.active_seconds;
    expiresAt = Date.parse(data.expires_at);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) endedElsewhere(err.message);
  }
}

let beat = 0;
function tick() {
  if (isActive()) activeSeconds += 1;
  countTyping();
  activeEl.textContent = `Active ${fmt(activeSeconds)}`;
  if (!live) return;
  const left = (expiresAt - (Date.now() + clockSkew)) / 1000;
  leaseLeft.textContent = fmt(left);
  document.getElementById("lease").classList.toggle("warn", left < 120);
  if (left <= 0) leaseLost("The lease expired. Your answer is kept in this browser.");
  if (++beat % 20 === 0) heartbeat();
}

let lost = false;
function leaseLost(message) {
  if (lost) return;
  lost = true;
  keepLocally();
  formError.textContent = `${message} This task is no longer yours; your answer is kept in this browser.`;
  document.getElementById("lease").textContent = "Ended";
  const submit = document.getElementById("submit");
  if (submit) submit.disabled = true;
}

// The server says this task has ended. When a submission went out and its answer never came
// back, it may be that submission: sending it again with the same key and body tells.
function endedElsewhere(message) {
  if (submitting) return;  // the submission in flight answers for itself
  if (frozenSubmission()) submit();
  else leaseLost(message);
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") { keepLocally(); saveNow(); heartbeat(); }
});

// ---- authenticity: what was pasted and typed into the answer ------------------------------
// Attempts only: characters pasted into the answer's text boxes, characters typed there, and
// the seconds spent typing (a key pressed in one within the last few seconds, counted like
// active time). Kept in this browser with the draft, so a reload does not reset them.

const TYPING_WINDOW_MS = 5_000;
const authenticity = { pasted_chars: 0, typed_chars: 0, typing_seconds: 0 };
try { Object.assign(authenticity, JSON.parse(localStorage.getItem(authKey) || "{}")); } catch { /* start at 0 */ }
let lastTyped = 0;

function keepAuthenticity() {
  if (!isReview) localStorage.setItem(authKey, JSON.stringify(authenticity));
}

function answerTextBox(target) {
  return !isReview && target instanceof Element && target.closest("#questions") !== null
    && target.matches("textarea, input[type=text]");
}

form.addEventListener("paste", (e) => {
  if (!answerTextBox(e.target)) return;
  authenticity.pasted_chars += (e.clipboardData?.getData("text/plain") ?? "").length;
  keepAuthenticity();
});

form.addEventListener("keydown", (e) => {
  if (!answerTextBox(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
  lastTyped = Date.now();
  if (e.key.length === 1 || e.key === "Enter") {
    authenticity.typed_chars += 1;
    keepAuthenticity();
  }
});

function countTyping() {
  if (!isReview && isActive() && Date.now() - lastTyped < TYPING_WINDOW_MS) {
    authenticity.typing_seconds += 1;
    keepAuthenticity();
  }
}

// ---- submit, skip, release ----------------------------------------------------------------

function clearErrors() {
  formError.textContent = "";
  for (const p of form.querySelectorAll(".q-error")) p.textContent = "";
  for (const el of form.querySelectorAll(".question")) el.classList.remove("invalid");
}

function markError(name, message) {
  const el = form.querySelector(`.question[data-question="${CSS.escape(name)}"]`);
  if (!el) return null;
  el.classList.add("invalid");
  const slot = el.querySelector(".q-error");
  slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
  return el;
}

// What to focus for a problem: the control to fix, else the question.
function focusTarget(name, marked) {
  if (name === "__verdict") {
    const r = readReview();
    if (!r.verdict) return form.querySelector('input[name="verdict"]');
    if (r.verdict === "reject" && !r.reason_code) return form.querySelector("#reason-code");
    return form.querySelector("#review-feedback");
  }
  return marked;
}

// What a person must still do before the server would accept this, per question.
function localProblems() {
  const problems = [];
  if (isReview) {
    const r = readReview();
    if (!r.verdict) problems.push(["__verdict", "choose approve, improve or reject"]);
    if (r.verdict === "reject") {
      if (!r.reason_code) problems.push(["__verdict", "choose why you reject"]);
      if (!r.feedback.trim()) problems.push(["__verdict", "write feedback the author can act on"]);
    }
    if (r.verdict !== "improve") return problems;
  }
  const answer = readAnswer();
  for (const el of questions) {
    const name = el.dataset.question;
    if (el.dataset.type === "step_review" && (answer[name] !== undefined || el.dataset.required === "true")) {
      const why = step_review.missing(el);
      if (why) problems.push([name, why]);
      continue;
    }
    if (el.dataset.required === "true" && answer[name] === undefined) {
      const why = el.dataset.type === "ranking" ? "order the responses and tick “This order is my ranking”" : "answer required";
      problems.push([name, why]);
    }
    if (el.dataset.type === "text" && answer[name] !== undefined) {
      const min = Number(el.dataset.min || 0);
      if (answer[name].length < min) problems.push([name, `write at least ${min} characters (${answer[name].length} so far)`]);
    }
  }
  return problems;
}

// The numbers measured while working are frozen with the Idempotency-Key at the first press of
// Submit: a retry after a network failure then sends the same body, which the server answers
// with the first result (a different body under the same key would be refused).
function readPending() {
  const raw = localStorage.getItem(idemKey);
  if (!raw) return null;
  try {
    const pending = JSON.parse(raw);
    return pending?.key ? pending : null;
  } catch {
    return { key: raw };  // a bare key, kept by an earlier version of this page
  }
}

function pendingSubmission() {
  const pending = readPending() ?? { key: uuid() };
  if (pending.active_seconds === undefined) {
    pending.active_seconds = activeSeconds;
    if (!isReview) pending.authenticity = { ...authenticity };
  }
  localStorage.setItem(idemKey, JSON.stringify(pending));
  return pending;
}

function frozenSubmission() {
  const pending = readPending();
  return pending?.active_seconds !== undefined ? pending : null;
}

function thawSubmission() {
  const pending = readPending();
  if (pending) localStorage.setItem(idemKey, JSON.stringify({ key: pending.key }));
}

function submitBody(pending) {
  const body = { active_seconds: pending.active_seconds };
  if (isReview) {
    const r = readReview();
    body.verdict = r.verdict;
    if (r.feedback.trim()) body.feedback = r.feedback;
    if (r.score) body.score = r.score;
    if (r.verdict === "reject") body.reason_code = r.reason_code;
    if (r.verdict === "improve") body.answer = r.answer;
  } else {
    body.answer = readAnswer();
    const ids = Object.values(generationIds);
    if (ids.length) body.generation_ids = ids;
    body.authenticity = pending.authenticity;
  }
  return body;
}

async function goNext() {
  try {
    const res = await api("POST", "/assignments/next", { project_id: boot.project_id });
    if (res.status === 204) {
      location.assign(`/?reason=${encodeURIComponent(res.headers.get("Inlier-Reason") || "queue_empty")}`);
    } else {
      location.assign(`/work/${res.data.id}`);
    }
  } catch {
    location.assign("/");
  }
}

let submitting = false;
async function submit() {
  if (!live || submitting || lost) return;
  clearErrors();
  const problems = localProblems();
  if (problems.length) {
    let first = null;
    for (const [name, msg] of problems) {
      const marked = markError(name, msg);
      first = first ?? focusTarget(name, marked);
    }
    const where = new Set(problems.map(([name]) => name));
    formError.textContent = `Not sent yet: ${where.size === 1 ? problems.map(([, msg]) => msg).join("; ") : `${where.size} questions need attention`}.`;
    (first ?? formError).focus();
    return;
  }
  submitting = true;
  const button = document.getElementById("submit");
  button.disabled = true;
  button.textContent = "Submitting…";
  const pending = pendingSubmission();
  try {
    keepLocally();
    await api("POST", `/assignments/${boot.assignment_id}/submit`, submitBody(pending), { headers: { "Idempotency-Key": pending.key } });
    localStorage.removeItem(draftKey);
    localStorage.removeItem(idemKey);
    localStorage.removeItem(authKey);
    clearTimeout(saveTimer);
    dirty = false;
    showSaved("Submitted ✓", "ok");
    button.textContent = "Submitted ✓";
    await goNext();
  } catch (err) {
    submitting = false;
    button.disabled = false;
    button.innerHTML = "Submit <kbd>Ctrl</kbd>+<kbd>Enter</kbd>";
    if (!(err instanceof ApiError)) {
      formError.textContent = "Could not reach the server. Your answer is kept in this browser; press Submit again to retry.";
      return;
    }
    if (err.status === 409) {
      leaseLost(err.message);
      return;
    }
    // Refused, so nothing was recorded: the next Submit measures afresh (same key).
    if (err.status < 500) thawSubmission();
    let first = null;
    for (const e of err.problem.errors || []) {
      const loc = e.loc || [];
      const name = loc[0] === "body" && loc[1] === "answer" ? loc[2] : loc[0] === "body" ? "__verdict" : null;
      if (!name) continue;
      const marked = markError(String(name), e.msg + (loc.length > 3 ? ` (${loc.slice(3).join(".")})` : ""));
      first = first ?? marked;
    }
    formError.textContent = `Not accepted: ${err.message}`;
    (first ?? formError).focus();
  }
}

async function giveBack(how) {
  if (!live || lost) return;
  const question = how === "skip"
    ? "Skip this item? It will not be offered to you again."
    : "Release this item back to the queue? Someone else (or you, later) can take it.";
  if (!window.confirm(question)) return;
  try {
    await api("POST", `/assignments/${boot.assignment_id}/${how}`);
    localStorage.removeItem(draftKey);
    localStorage.removeItem(authKey);
    await goNext();
  } catch (err) {
    formError.textContent = err instanceof ApiError ? err.message : "Could not reach the server; try again.";
  }
}

// ---- guidelines, shortcuts ----------------------------------------------------------------

const guidelines = document.getElementById("guidelines");
const toggleGuidelines = document.getElementById("toggle-guidelines");
function setGuidelines(open) {
  guidelines.hidden = !open;
  toggleGuidelines.setAttribute("aria-expanded", String(open));
  wb.classList.toggle("with-guidelines", open);
  if (open) guidelines.focus();
}
toggleGuidelines.addEventListener("click", () => setGuidelines(guidelines.hidden));
const shortcuts = document.getElementById("shortcuts");
document.getElementById("show-shortcuts").addEventListener("click", () => shortcuts.showModal());

let current = 0;
function focusQuestion(i) {
  const visible = questions.filter((q) => !q.disabled);
  if (!visible.length) return;
  current = (i + visible.length) % visible.length;
  const el = visible[current];
  const target = el.querySelector("input:checked, .rank-entry, .step, textarea, input") ?? el;
  el.scrollIntoView({ block: "nearest" });
  target.focus();
}
function currentQuestion() {
  return questions.find((q) => q.contains(document.activeElement)) ?? questions.filter((q) => !q.disabled)[current];
}

function typing(target) {
  return target.matches?.("textarea, input[type=text], input[type=email], input[type=password], [contenteditable]");
}

document.addEventListener("keydown", (e) => {
  if (shortcuts.open) return;
  if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); submit(); return; }
  if (e.key === "Escape" && !guidelines.hidden) { setGuidelines(false); toggleGuidelines.focus(); return; }
  if (e.altKey && !e.ctrlKey && !e.metaKey) {
    const k = e.key.toLowerCase();
    const code = e.code;
    if (k === "s" || code === "KeyS") { e.preventDefault(); giveBack("skip"); return; }
    if (k === "r" || code === "KeyR") { e.preventDefault(); giveBack("release"); return; }
    if (k === "g" || code === "KeyG") {
      e.preventDefault();
      document.querySelector("[data-generate]:not(:disabled)")?.click();
      return;
    }
    return;
  }
  if (e.ctrlKey || e.metaKey || typing(e.target)) return;
  if (e.key === "?") { e.preventDefault(); shortcuts.showModal(); return; }
  if (e.key === "g") { e.preventDefault(); setGuidelines(guidelines.hidden); return; }
  if (e.key === "j") { e.preventDefault(); focusQuestion(current + 1); return; }
  if (e.key === "k") { e.preventDefault(); focusQuestion(current - 1); return; }
  const q = currentQuestion();
  if (/^[1-9]$/.test(e.key) && q && !q.disabled && kindOf(q)?.digit) {
    if (kindOf(q).digit(q, Number(e.key))) e.preventDefault();
    return;
  }
  if (["a", "i", "x"].includes(e.key)) {
    if (q && !q.disabled && q.dataset.type === "step_review" && step_review.letter(q, e.key)) {
      e.preventDefault();
      return;
    }
    if (isReview) {
      const v = { a: "approve", i: "improve", x: "reject" }[e.key];
      const input = form.querySelector(`input[name="verdict"][value="${v}"]`);
      input.checked = true;
      input.dispatchEvent(new Event("change", { bubbles: true }));
      input.focus();
      e.preventDefault();
    }
  }
});

// ---- start --------------------------------------------------------------------------------

for (const el of questions) kindOf(el).init?.(el);
restore();
if (!live) for (const el of questions) el.disabled = true;
form.addEventListener("input", scheduleSave);
form.addEventListener("change", (e) => {
  if (e.target.name === "verdict") syncReview();
  scheduleSave();
});
form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
document.getElementById("skip")?.addEventListener("click", () => giveBack("skip"));
document.getElementById("release")?.addEventListener("click", () => giveBack("release"));
for (const button of document.querySelectorAll("[data-generate]")) {
  button.disabled = button.disabled || !live;
  button.addEventListener("click", () =>
    generate({
      boot,
      field: button.dataset.generate,
      button,
      readAnswer,
      onValue: async (value, result) => {
        generationIds[button.dataset.generate] = result.generation_id;
        for (const el of questions) {
          if (el.dataset.type === "step_review" && el.dataset.stepsField === button.dataset.generate && Array.isArray(value)) {
            await step_review.setSteps(el, value);
          }
        }
        scheduleSave();
      },
      onLeaseLost: leaseLost,
    }),
  );
}
window.addEventListener("pagehide", keepLocally);
setInterval(tick, 1000);
tick();
window.inlierWorkbench = {
  readAnswer, draftBody, activeSeconds: () => activeSeconds, authenticity: () => ({ ...authenticity }),
};
