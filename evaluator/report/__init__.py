"""What a run writes: report.json (the schema below), summary.md and report.html."""
