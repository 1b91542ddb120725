"""IEC 62443-3-2 risk: scales, threat scenarios, exposure and consequence-first SL-T."""
