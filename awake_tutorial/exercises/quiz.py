"""Self-check quizzes: multiple choice with immediate feedback, an explanation per answer.

A notebook cell reads, in plain text as well as in JupyterLab::

    quiz("Why is R lower triangular?", {
        "A corrector moves the beam only downstream of itself": "Right: ...",
        "The quadrupoles focus in one plane only": "No: ...",
    }, answer=0)

(the right option's explanation starts with "Right", the others' say why not).

In JupyterLab the question shows with one lettered button per option (the option's text,
maths included, next to it); clicking one shows whether it is right and its explanation (ipywidgets, the course's widget library; no other
dependency). In a viewer without widgets the cell's source is the quiz, answers included.
"""

from __future__ import annotations

from typing import Mapping

import random

import ipywidgets as widgets
from IPython.display import display

RIGHT, WRONG = "\u2714", "\u2718"  # check mark, cross: the explanation itself says "Right" or why not


def _check(question: str, options: Mapping[str, str], answer: int) -> list[tuple[str, str]]:
    items = list(options.items())
    if len(items) < 2:
        raise ValueError(f"quiz {question[:40]!r}: give at least two options, got {len(items)}.")
    if not 0 <= answer < len(items):
        raise ValueError(f"quiz {question[:40]!r}: answer={answer} is not an option index "
                         f"(0..{len(items) - 1}).")
    if not all(text.strip() and why.strip() for text, why in items):
        raise ValueError(f"quiz {question[:40]!r}: every option needs a text and an explanation.")
    for index, (text, why) in enumerate(items):
        if why.startswith("Right") != (index == answer):
            raise ValueError(f"quiz {question[:40]!r}: the right option's explanation starts with 'Right', "
                             f"the others' do not (option {index}: {text[:40]!r}).")
    return items


def quiz(question: str, options: Mapping[str, str], answer: int, show: bool = True) -> widgets.VBox | None:
    """One multiple-choice question: ``options`` maps each option's text to the explanation
    shown when it is clicked; ``answer`` is the index of the right option (in ``options``).
    The buttons show the options in an order shuffled by the question's text (the same at
    every run), so the right one is not always first. Displays the widget and returns None
    (a notebook cell then shows it once), or with ``show=False`` returns it undisplayed."""
    items = _check(question, options, answer)
    order = random.Random(question).sample(range(len(items)), len(items))
    feedback = widgets.HTMLMath(value="<i>Choose an answer.</i>")
    feedback.add_class("awake-quiz-feedback")
    buttons = []

    def on_click(button):
        index = order[buttons.index(button)]
        verdict = RIGHT if index == answer else WRONG
        colour = "#1a7f37" if index == answer else "#b35900"
        feedback.value = f"<b style='color:{colour}'>{verdict}</b> {items[index][1]}"
        for other in buttons:
            other.button_style = ""
        button.button_style = "success" if index == answer else "warning"

    rows = []
    for letter, (text, _) in zip("ABCDEFGH", (items[i] for i in order)):
        button = widgets.Button(description=letter, tooltip=f"answer {letter}",
                                layout=widgets.Layout(width="3em", flex="0 0 auto"))
        button.add_class("awake-quiz-option")
        button.on_click(on_click)
        buttons.append(button)
        rows.append(widgets.HBox([button, widgets.HTMLMath(value=text)]))  # buttons cannot render maths
    box = widgets.VBox([widgets.HTMLMath(value=f"<b>{question}</b>"), *rows, feedback])
    box.add_class("awake-quiz")
    box.buttons = buttons  # for tests: the option buttons in display order
    if show:
        display(box)
        return None
    return box
