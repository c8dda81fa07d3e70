"""Keys, encryption, API tokens, permissions and the audit trail."""
