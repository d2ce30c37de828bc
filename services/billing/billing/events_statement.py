"""Events of billing's part: the statement run: premiums per member or subscriber, retro adjustments, statements per account and consolidated per group (issue 6), on `billing.events`; see billing.events."""

PUBLISHED = {}
