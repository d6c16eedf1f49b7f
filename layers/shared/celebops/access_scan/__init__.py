"""Nightly unauthorized-access scan of the API's access logs.

`addresses` canonicalises source addresses and matches the allowlist. `parse` reads one access-log
line of each supported format, and `detector` finds offenders fail2ban-style. `log_reader` pages
through FilterLogEvents and `history` remembers earlier offenders. `blocking` manages the optional
WAF IP sets, `report` summarises a run, and `scan` ties them together. `file_scan` reads an access-log
file on disk with several processes.
"""
