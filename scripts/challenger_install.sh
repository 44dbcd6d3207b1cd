#!/usr/bin/env bash
# Install R and challengeR 1.0.5 for the side-by-side check (bench/challenger_side_by_side.py). Debian only; run
# as root. challengeR and relations/sets/slam are not Debian packages: give their source folders (e.g. GitHub
# snapshots of wiesenfa/challengeR and the CRAN mirrors cran/relations, cran/sets, cran/slam) as arguments.
#   bash scripts/challenger_install.sh SRC/slam SRC/sets SRC/relations SRC/challengeR
set -euo pipefail
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends r-base-core r-base-dev r-cran-ggplot2 \
  r-cran-purrr r-cran-dplyr r-bioc-graph r-cran-knitr r-cran-plyr r-cran-reshape2 r-cran-rlang r-cran-rmarkdown \
  r-cran-tidyr r-cran-viridislite r-cran-dorng r-cran-foreach r-cran-cluster r-cran-jsonlite
for source in "$@"; do
  R CMD INSTALL --no-docs --no-html "$source"
done
Rscript -e 'cat("challengeR", as.character(packageVersion("challengeR")), "\n")'
