// Forum pages: the markdown editor with live preview, as in the workbench's text questions.
import { init } from "./q/text.js";

for (const el of document.querySelectorAll('.question[data-type="text"]')) init(el);
