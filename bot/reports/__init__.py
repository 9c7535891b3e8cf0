"""Class progress for instructors: replies, exports, the chart and the operator's CLI."""
