"""The research book's machinery, above the method: the book builder (``build``), the notebook
runner (``notebook``), sweeps (``sweep``), the chapters' shared config and variants
(``chapters``), findings and verdicts (``findings``), looking inside runs (``analysis``), tables
(``report``), figures (``plots``), the paper's numbers (``reference``) and the browser check
(``browser``). The method (``mlgcn_core`` outside this folder) never imports from here."""
