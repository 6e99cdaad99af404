"""Evidence packages: selected messages as .eml, a report (HTML and PDF) and a manifest tying each
message to its ledger entry, checkable offline by the verify_evidence.py inside each package."""

from mailvault.evidence.package import PackageResult, build_package
from mailvault.evidence.report import Report, Section

__all__ = ["PackageResult", "Report", "Section", "build_package"]
