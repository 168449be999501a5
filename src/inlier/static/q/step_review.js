// Judge a chain of thought step by step: approve (+1), improve with a rewrite (0 or −1),
// reject (−1); optionally stop at the first wrong step; then say if the final answer is right.

import { renderMarkdown } from "../api.js";

const steps = (el) => [...el.querySelectorAll(".step")];
const verdictOf = (li) => li.querySelector('.step-controls input:checked')?.value;
const labelOf = (li) => {
  const v = verdictOf(li);
  if (v === "approve") return 1;
  if (v === "reject") return -1;
  if (v === "improve") return Number(li.querySelector(".step-label input:checked")?.value ?? 0);
  return undefined;
};
const stopsAtFirstError = (el) => el.dataset.stopFirstError === "true";

function sync(el) {
  let afterError = false;
  for (const li of steps(el)) {
    const verdict = verdictOf(li);
    const improve = li.querySelector(".step-improve");
    improve.hidden = verdict !== "improve";
    li.dataset.verdict = verdict ?? "";
    const off = afterError && stopsAtFirstError(el);
    li.classList.toggle("not-judged", off);
    for (const input of li.querySelectorAll("input, textarea")) input.disabled = off;
    if (labelOf(li) === -1) afterError = true;
  }
}

function stepTemplate(el, i, text, html) {
  const markup = el.querySelector(".step-template").innerHTML
    .replaceAll("{i}", String(i))
    .replaceAll("{n}", String(i + 1));
  const holder = document.createElement("ol");
  holder.innerHTML = markup;
  const li = holder.firstElementChild;
  // Server-rendered and sanitized; the raw text is kept as text.
  li.querySelector(".step-text").innerHTML = html;
  li.querySelector(".step-raw").textContent = text;
  return li;
}

export function init(el) {
  el.addEventListener("change", (e) => {
    const li = e.target.closest(".step");
    if (li && e.target.matches(".step-controls input") && verdictOf(li) === "improve") {
      const ta = li.querySelector(".rewrite");
      if (!ta.value) ta.value = li.querySelector(".step-raw").textContent;
      sync(el);
      ta.focus();
      return;
    }
    sync(el);
  });
  sync(el);
}

// New steps from a generation replace the old ones and their verdicts.
export async function setSteps(el, texts) {
  const list = el.querySelector(".step-list");
  let html;
  try {
    html = await renderMarkdown(texts.length ? texts : [""]);
  } catch {
    html = texts.map((t) => {
      const p = document.createElement("p");
      p.textContent = t;
      return p.outerHTML;
    });
  }
  list.replaceChildren(...texts.map((t, i) => stepTemplate(el, i, t, html[i] ?? "")));
  list.dataset.count = String(texts.length);
  el.querySelector(".no-steps").hidden = texts.length > 0;
  sync(el);
}

export function read(el) {
  const out = [];
  for (const li of steps(el)) {
    if (li.classList.contains("not-judged")) break;
    const verdict = verdictOf(li);
    const step = { verdict: verdict ?? null };
    if (verdict) step.label = labelOf(li);
    if (verdict === "improve") step.rewrite = li.querySelector(".rewrite").value;
    out.push(step);
  }
  const finalInput = el.querySelector(`input[name="${CSS.escape("q-" + el.dataset.question + "-final")}"]:checked`);
  const anything = out.some((s) => s.verdict) || finalInput;
  if (!anything) return undefined;
  const value = { steps: out };
  if (finalInput) value.final_answer_correct = finalInput.value === "true";
  return value;
}

export function write(el, value) {
  const given = Array.isArray(value?.steps) ? value.steps : [];
  steps(el).forEach((li, i) => {
    const s = given[i];
    for (const input of li.querySelectorAll(".step-controls input")) input.checked = s?.verdict === input.value;
    if (s?.verdict === "improve") {
      li.querySelector(".rewrite").value = s.rewrite ?? "";
      for (const input of li.querySelectorAll(".step-label input")) input.checked = Number(input.value) === (s.label ?? 0);
    }
  });
  const name = "q-" + el.dataset.question + "-final";
  for (const input of el.querySelectorAll(`input[name="${CSS.escape(name)}"]`)) {
    input.checked = value?.final_answer_correct !== undefined && input.value === String(value.final_answer_correct);
  }
  sync(el);
}

// A / I / X judge the focused step (or the first one not judged yet) and move on.
export function letter(el, key) {
  const verdict = { a: "approve", i: "improve", x: "reject" }[key];
  if (!verdict) return false;
  const all = steps(el).filter((li) => !li.classList.contains("not-judged"));
  const li = all.find((x) => x.contains(document.activeElement)) ?? all.find((x) => !verdictOf(x));
  if (!li) return false;
  const input = li.querySelector(`.step-controls input[value="${verdict}"]`);
  input.checked = true;
  input.dispatchEvent(new Event("change", { bubbles: true }));
  if (verdict !== "improve") {
    const next = steps(el).find((x, k) => k > steps(el).indexOf(li) && !x.classList.contains("not-judged"));
    (next ?? li).focus();
  }
  return true;
}

export function missing(el) {
  const list = steps(el);
  if (!list.length) return "there are no steps to judge yet";
  for (const li of list) {
    if (li.classList.contains("not-judged")) break;
    if (!verdictOf(li)) return `judge step ${Number(li.dataset.index) + 1}`;
    if (verdictOf(li) === "improve" && !li.querySelector(".rewrite").value.trim()) {
      return `write your rewrite of step ${Number(li.dataset.index) + 1}`;
    }
  }
  if (el.dataset.askFinal === "true" && !el.querySelector(".final input:checked")) {
    return "say whether the final answer is correct";
  }
  return null;
}
