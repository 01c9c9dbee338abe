"""VQA accuracy exactly as the official VQA v2 evaluator computes it.

The official evaluator (``vqaEval.py`` of the VQA API, shipped by ALBEF in
``vqaTools/``) has quirks that change scores; they are reproduced here on
purpose:

1. **Asymmetric answer processing.** The predicted answer gets newline/tab
   → space, strip, punctuation processing, then number-word / article /
   contraction processing. The ground-truth answers get *only* the
   punctuation processing, and only when the ten answers are not all
   identical. So a unanimous ground truth ``"the cat"`` never matches any
   prediction (the prediction loses its article), and ``"two"`` predicted
   against a unanimous ``"two"`` scores 0 (the prediction becomes ``"2"``).
2. **Punctuation rule reads the unprocessed text.** For each of the 21
   punctuation marks: if the *original* answer has the mark followed or
   preceded by a space, or contains a digit-comma-digit pattern anywhere,
   the mark is deleted, otherwise it is replaced by a space.
3. **Period stripping.** The intended pattern ``(?<!\\d)\\.(?!\\d)`` is
   written ``(?!<=\\d)(\\.)(?!\\d)`` (a look-ahead, always true), so every
   period not followed by a digit is removed, also after a digit
   (``"2."`` → ``"2"``, ``"3.5"`` kept); and ``re.UNICODE`` is passed where
   ``sub`` expects ``count``, so at most 32 periods are removed.
4. **Leave-one-out.** For each of the ten human answers, the prediction
   is compared with the other nine: ``min(1, matches / 3)``; the question's
   accuracy is the mean of the ten values (so 3 matching humans out of 10
   give 0.9, not 1).
5. **Rounding.** Overall, per-answer-type and per-question-type
   accuracies are ``round(100 * mean, 2)`` of the unrounded per-question
   accuracies.
"""
import re
from collections import OrderedDict
from typing import Dict, Iterable, List, Sequence, Tuple

# Number words → digits (note: 'none' → '0').
MANUAL_MAP = {'none': '0', 'zero': '0', 'one': '1', 'two': '2',
              'three': '3', 'four': '4', 'five': '5', 'six': '6',
              'seven': '7', 'eight': '8', 'nine': '9', 'ten': '10'}
ARTICLES = ('a', 'an', 'the')
PUNCTUATION = (';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\',
               '_', '-', '>', '<', '@', '`', ',', '?', '!')
# The official table of apostrophe-less spellings. Entries are kept as the
# evaluator has them, including its oddities ("somebody'd" maps to
# "somebodyd", "let's" and "she's" map to themselves).
_CONTRACTION_PAIRS = '''
aint ain't|arent aren't|cant can't|couldve could've|couldnt couldn't
couldn'tve couldn't've|couldnt've couldn't've|didnt didn't|doesnt doesn't
dont don't|hadnt hadn't|hadnt've hadn't've|hadn'tve hadn't've|hasnt hasn't
havent haven't|hed he'd|hed've he'd've|he'dve he'd've|hes he's|howd how'd
howll how'll|hows how's|Id've I'd've|I'dve I'd've|Im I'm|Ive I've
isnt isn't|itd it'd|itd've it'd've|it'dve it'd've|itll it'll|let's let's
maam ma'am|mightnt mightn't|mightnt've mightn't've|mightn'tve mightn't've
mightve might've|mustnt mustn't|mustve must've|neednt needn't|notve not've
oclock o'clock|oughtnt oughtn't|ow's'at 'ow's'at|'ows'at 'ow's'at
'ow'sat 'ow's'at|shant shan't|shed've she'd've|she'dve she'd've
she's she's|shouldve should've|shouldnt shouldn't|shouldnt've shouldn't've
shouldn'tve shouldn't've|somebody'd somebodyd|somebodyd've somebody'd've
somebody'dve somebody'd've|somebodyll somebody'll|somebodys somebody's
someoned someone'd|someoned've someone'd've|someone'dve someone'd've
someonell someone'll|someones someone's|somethingd something'd
somethingd've something'd've|something'dve something'd've
somethingll something'll|thats that's|thered there'd|thered've there'd've
there'dve there'd've|therere there're|theres there's|theyd they'd
theyd've they'd've|they'dve they'd've|theyll they'll|theyre they're
theyve they've|twas 'twas|wasnt wasn't|wed've we'd've|we'dve we'd've
weve we've|werent weren't|whatll what'll|whatre what're|whats what's
whatve what've|whens when's|whered where'd|wheres where's|whereve where've
whod who'd|whod've who'd've|who'dve who'd've|wholl who'll|whos who's
whove who've|whyll why'll|whyre why're|whys why's|wont won't
wouldve would've|wouldnt wouldn't|wouldnt've wouldn't've
wouldn'tve wouldn't've|yall y'all|yall'll y'all'll|y'allll y'all'll
yall'd've y'all'd've|y'alld've y'all'd've|y'all'dve y'all'd've|youd you'd
youd've you'd've|you'dve you'd've|youll you'll|youre you're|youve you've
'''
CONTRACTIONS = dict(
    p.strip().split(' ') for p in _CONTRACTION_PAIRS.replace('\n', '|')
    .split('|') if p.strip())

_PERIOD_STRIP = re.compile(r'(?!<=\d)(\.)(?!\d)')  # quirk 3, kept
_COMMA_STRIP = re.compile(r'(\d)(,)(\d)')
_MAX_PERIODS = int(re.UNICODE)  # quirk 3: the flag value (32) as count


def process_punctuation(text: str) -> str:
    """The evaluator's ``processPunctuation`` (quirks 2 and 3)."""
    out = text
    digit_comma = _COMMA_STRIP.search(text) is not None
    for p in PUNCTUATION:
        if (p + ' ' in text or ' ' + p in text) or digit_comma:
            out = out.replace(p, '')
        else:
            out = out.replace(p, ' ')
    return _PERIOD_STRIP.sub('', out, count=_MAX_PERIODS)


def process_digit_article(text: str) -> str:
    """The evaluator's ``processDigitArticle``: lower-case, number words to
    digits, drop articles, then the contraction table, word by word."""
    words = [MANUAL_MAP.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return ' '.join(CONTRACTIONS.get(w, w) for w in words)


def normalize_prediction(answer: str) -> str:
    """Processing applied to a predicted answer (quirk 1)."""
    answer = answer.replace('\n', ' ').replace('\t', ' ').strip()
    return process_digit_article(process_punctuation(answer))


def question_accuracy(gt_answers: Sequence[str], prediction: str) -> float:
    """Accuracy in [0, 1] of one prediction against the human answers
    (quirks 1 and 4)."""
    if not gt_answers:
        raise ValueError('question_accuracy needs at least one ground-truth '
                         'answer')
    pred = normalize_prediction(prediction)
    gts = list(gt_answers)
    if len(set(gts)) > 1:
        gts = [process_punctuation(a) for a in gts]
    accs = []
    for i in range(len(gts)):
        matches = sum(a == pred for j, a in enumerate(gts) if j != i)
        accs.append(min(1, matches / 3))
    return sum(accs) / len(accs)


def aggregate(records: Iterable[Tuple[float, str, str]], precision: int = 2
              ) -> Dict[str, object]:
    """``overall``, ``perAnswerType`` and ``perQuestionType`` accuracies
    in percent from ``(accuracy, question_type, answer_type)`` per
    question, rounded as the evaluator does (quirk 5)."""
    accs: List[float] = []
    by_q: Dict[str, List[float]] = OrderedDict()
    by_a: Dict[str, List[float]] = OrderedDict()
    for acc, q_type, a_type in records:
        accs.append(acc)
        by_q.setdefault(q_type, []).append(acc)
        by_a.setdefault(a_type, []).append(acc)
    if not accs:
        raise ValueError('no questions to evaluate')

    def pct(values):
        return round(100 * float(sum(values)) / len(values), precision)

    return dict(overall=pct(accs),
                perAnswerType={k: pct(v) for k, v in by_a.items()},
                perQuestionType={k: pct(v) for k, v in by_q.items()})
