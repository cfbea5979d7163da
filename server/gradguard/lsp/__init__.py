"""The GradGuard language server (``gradguard server``); see docs/server.md."""
