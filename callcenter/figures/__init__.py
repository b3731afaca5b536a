"""Today's figures: the one place a queue's, an agent's and an interval's numbers are computed
(the supervisor's page, the wall display, the API and exports all read them from here).

`definitions.py` says what each figure means, over plain rows; `reader.py` loads a day's rows
(the site's local day, CALLCENTER_TIMEZONE) and hands them over; `day.py` is the day and its
15-minute intervals.
"""

from .reader import for_day, today

__all__ = ["for_day", "today"]
