"""The machinery every kind's reconciler runs in: one worker per object, and the memory of
this process's own status writes. No decisions and no I/O of its own."""
