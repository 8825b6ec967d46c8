"""EMMS reports: dedicated and designed reports rendered to XLSX, PDF and CSV (R-4.6.9, R-4.5.4.3 printable)."""
