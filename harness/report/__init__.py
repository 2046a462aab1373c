"""Reports over stored results: the HTML leaderboard."""
