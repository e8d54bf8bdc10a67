"""Firebase Authentication: verifying ID tokens, and unsigned tokens for the emulators."""
