// Taking an assessment: the workbench's question widgets, one set per item, submitted once.
// The server grades the answers; the page then reloads to show the result and its feedback.

import { api, ApiError } from "./api.js";
import * as label from "./q/label.js";
import * as multi_label from "./q/multi_label.js";
import * as rating from "./q/rating.js";
import * as rubric from "./q/rubric.js";
import * as ranking from "./q/ranking.js";
import * as pairwise from "./q/pairwise.js";
import * as text from "./q/text.js";
import * as step_review from "./q/step_review.js";

const KINDS = { label, multi_label, rating, rubric, ranking, pairwise, text, step_review };
const boot = JSON.parse(document.getElementById("boot").textContent);
const form = document.getElementById("attempt-form");
const formError = document.getElementById("form-error");
const submit = document.getElementById("submit");
const items = [...form.querySelectorAll(".assessment-item")];

const kindOf = (el) => KINDS[el.dataset.type];
// Widgets are named "i<item>__<question>" so that many items share one page.
const questionOf = (el, itemId) => el.dataset.question.slice(`i${itemId}__`.length);

for (const item of items) {
  for (const el of item.querySelectorAll(".question")) kindOf(el).init?.(el);
}

function readAnswers() {
  const answers = {};
  for (const item of items) {
    const id = item.dataset.item;
    const answer = {};
    for (const el of item.querySelectorAll(".question")) {
      const v = kindOf(el).read(el);
      if (v !== undefined) answer[questionOf(el, id)] = v;
    }
    answers[id] = answer;
  }
  return answers;
}

function showProblem(err) {
  for (const el of form.querySelectorAll(".question.invalid")) el.classList.remove("invalid");
  const loc = err.problem?.errors?.[0]?.loc ?? [];
  // ["body", "answers", <item id>, <question>, ...] names the widget to fix.
  if (loc[1] === "answers" && loc.length > 3) {
    const el = document.getElementById(`q-i${loc[2]}__${loc[3]}`);
    if (el) {
      el.classList.add("invalid");
      const msg = el.querySelector(".q-error");
      if (msg) msg.textContent = err.problem.errors[0].msg;
      el.focus();
      return;
    }
  }
  formError.textContent = err.message;
  formError.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  formError.textContent = "";
  submit.disabled = true;
  try {
    await api("POST", `/assessment-attempts/${boot.attempt_id}/submit`, { answers: readAnswers() });
    location.reload();
  } catch (err) {
    submit.disabled = false;
    if (err instanceof ApiError) showProblem(err);
    else formError.textContent = "Could not reach the server; your answers are still here. Try again.";
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit();
  }
});
