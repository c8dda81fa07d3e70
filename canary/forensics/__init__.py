"""Leaked-file forensics: find canaries in a leaked, bought or seized dataset."""
