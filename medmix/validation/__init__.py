"""Clinical validation protocols on medmix's result tables (the seed review's steps from "segments well" to
"clinically usable"), each a pure API function, a `medmix validate …` command and a section of one HTML report:

- `inter_observer` (observers.py): model–expert against expert–expert agreement, non-inferiority test;
- `site_generalisation` (sites.py): per-site Dice, internal against external sites, the 0.05 Dice drop flag;
- `commute_readiness` (commute.py): expert acceptability ratings, editing time, dosimetry, surface Dice of edits;
- `radiomics_agreement` (radiomics.py): ICC of shape and first-order features between predicted and reference
  masks.

Each writes `<out>/<protocol>/` (result.json, CSV tables, a PNG figure) and re-renders `<out>/report.md` and
`<out>/report.html` from every protocol folder present (`medmix.validation.report`), so several protocols run
into one folder give one report.
"""
