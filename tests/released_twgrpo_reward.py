"""The released TW-GRPO training rewards, verbatim, as the oracle of `test_train_reward_released.py`.

Copied from longmalongma/TW-GRPO @ aa529ff, `src/open_r1/grpo.py` (Apache-2.0, © the TW-GRPO authors):
`accuracy_reward` (registry "accuracy", the soft reward), `origin_accuracy_reward` ("origin_accuracy", the
all-or-nothing baseline) and `format_reward`, with the module's imports they use. The only lines left out
are their `DEBUG_MODE` logging blocks (they write to the released `ProcessLogger`, which needs the authors'
environment variables, and do not change the returned rewards). Not twgrpo code: do not edit.
"""

import re
from datetime import datetime

from math_verify import parse, verify


def accuracy_reward(completions, solution, **kwargs):
    """
    Reward function that checks if the completion is correct, supporting partial credit for subset matches.
    Returns a score between 0 and 1, where:
    - 1.0: perfect match
    - 0.0-1.0: partial match (when model answer is a correct subset)
    - 0.0: incorrect match
    """
    contents = [completion[0]["content"] for completion in completions]
    rewards = []
    current_time = datetime.now().strftime("%d-%H-%M-%S-%f")

    for content, sol in zip(contents, solution):
        reward = 0.0
        verification_method = "none"

        # Try symbolic verification first
        try:
            answer = parse(content)
            if float(verify(answer, parse(sol))) > 0:
                reward = 1.0
                verification_method = "symbolic"
        except Exception:
            pass  # Continue to next verification method if this fails

        # If symbolic verification failed, try string matching with partial credit
        if reward == 0.0:
            try:
                # Extract answer from solution if it has think/answer tags
                sol_match = re.search(r"<answer>(.*?)</answer>", sol, re.DOTALL)
                ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()

                # Extract answer from content if it has think/answer tags
                content_match = re.search(r"<answer>(.*?)</answer>", content, re.DOTALL)
                student_answer = content_match.group(1).strip() if content_match else content.strip()

                # Convert answers to sets for comparison
                ground_truth_set = set(option.strip() for option in ground_truth.replace(' ', '').split(','))
                student_answer_set = set(option.strip() for option in student_answer.replace(' ', '').split(','))

                # Check if student answer is a subset of correct answers
                if student_answer_set.issubset(ground_truth_set):
                    # Calculate partial credit: number of correct answers / total number of correct answers
                    reward = len(student_answer_set) / len(ground_truth_set)
                    verification_method = "string_matching"
                else:
                    reward = 0.0
            except Exception:
                pass  # Keep reward as 0.0 if both methods fail

        rewards.append(reward)

    return rewards


def origin_accuracy_reward(completions, solution, **kwargs):
    """
    Reward function that checks if the completion is correct, supporting partial credit for subset matches.
    Returns a score between 0 and 1, where:
    - 1.0: perfect match
    - 0.0-1.0: partial match (when model answer is a correct subset)
    - 0.0: incorrect match
    """
    contents = [completion[0]["content"] for completion in completions]
    rewards = []
    current_time = datetime.now().strftime("%d-%H-%M-%S-%f")

    for content, sol in zip(contents, solution):
        reward = 0.0
        verification_method = "none"

        # Try symbolic verification first
        try:
            answer = parse(content)
            if float(verify(answer, parse(sol))) > 0:
                reward = 1.0
                verification_method = "symbolic"
        except Exception:
            pass  # Continue to next verification method if this fails

        # If symbolic verification failed, try string matching with partial credit
        if reward == 0.0:
            try:
                # Extract answer from solution if it has think/answer tags
                sol_match = re.search(r"<answer>(.*?)</answer>", sol, re.DOTALL)
                ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()

                # Extract answer from content if it has think/answer tags
                content_match = re.search(r"<answer>(.*?)</answer>", content, re.DOTALL)
                student_answer = content_match.group(1).strip() if content_match else content.strip()

                # Convert answers to sets for comparison
                ground_truth_set = set(option.strip() for option in ground_truth.replace(' ', '').split(','))
                student_answer_set = set(option.strip() for option in student_answer.replace(' ', '').split(','))

                # Check if student answer is a subset of correct answers
                if student_answer_set.issubset(ground_truth_set):
                    # Calculate partial credit: number of correct answers / total number of correct answers
                    reward = len(student_answer_set) / len(ground_truth_set)
                    if reward < 1:
                        reward = 0
                    verification_method = "string_matching"
                else:
                    reward = 0.0
            except Exception:
                pass  # Keep reward as 0.0 if both methods fail

        rewards.append(reward)

    return rewards


def format_reward(completions, **kwargs):
    """Reward function that checks if the completion has a specific format."""
    pattern = r"<think>.*?</think>\s*<answer>.*?</answer>[\s!]*$"
    completion_contents = [completion[0]["content"] for completion in completions]

    def check_format(content):
        # Check for duplicate tags
        if content.count("<think>") > 1 or content.count("<answer>") > 1:
            return False
        # Use more lenient pattern matching
        return bool(re.search(pattern, content.strip(), re.DOTALL))

    rewards = [1.0 if check_format(content) else 0.0 for content in completion_contents]

    return rewards
