"""A class challenge: a teacher's goal and limits, the students' runs entered on a board ranked by each student's
best validation accuracy, and the test accuracy revealed at the end (issue #37).

No Streamlit and no torch here: `limits` checks a config against a challenge's limits (pure), `board` ranks entries
(pure), `store` keeps challenges and entries in a database through SQLAlchemy (SQLite in the checkpoints folder by
default, any URL with FMNIST_CLASS_DB). The app (pages/class.py), the CLI (`python -m fmnist challenge`, `train
--challenge`) and the training worker all go through them.
"""

from fmnist.challenge.board import Board, BoardRow, rank
from fmnist.challenge.limits import SPLIT_SEED, VAL_SIZE, Broken, Limits, broken_limits, challenge_config, entry_figures
from fmnist.challenge.store import (
                                     AdminError,
                                     ChallengeError,
                                     ChallengeInfo,
                                     ChallengeStore,
                                     EntryInfo,
                                     clean_name,
                                     default_url,
                                     store,
)

__all__ = ["AdminError", "Board", "BoardRow", "Broken", "ChallengeError", "ChallengeInfo", "ChallengeStore",
           "EntryInfo", "Limits", "SPLIT_SEED", "VAL_SIZE", "broken_limits", "challenge_config", "clean_name",
           "default_url", "entry_figures", "rank", "store"]
