"""Gap assessment against SL-T (IEC 62443-3-3): answers, evidence, SL-A, gaps, backlog, scorecard."""
