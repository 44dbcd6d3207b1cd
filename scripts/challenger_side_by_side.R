# challengeR's numbers for a long table, for the side-by-side with `medmix leaderboard --compat challenger`.
#
#   Rscript scripts/challenger_side_by_side.R LONG.csv FILLS.csv OUT.json
#
# LONG.csv: task, case, algorithm, metric, value (missing cases absent or NA). FILLS.csv: task, metric, fill,
# higher_is_better (the value a missing case counts as, the metric's direction). Written by
# `bench/challenger_side_by_side.py`, which also runs medmix and compares. Needs R with challengeR 1.0.5
# (scripts/challenger_install.sh); nothing in medmix's tests runs R.
suppressPackageStartupMessages({library(challengeR); library(jsonlite); library(relations)})
args <- commandArgs(trailingOnly = TRUE)
long <- read.csv(args[1], colClasses = c(task = "character", case = "character", algorithm = "character",
                                         metric = "character"))
fills <- read.csv(args[2], colClasses = c(task = "character", metric = "character"))
alpha <- 0.05

pvalues <- function(ch, fill, hib) {
  # challengeR's test (decision.challenge's test.fun) for every ordered pair, over the cases both have
  data <- as.data.frame(ch[[1]])  # a single-task challenge is a list of one task
  if (!is.null(fill)) data$value[is.na(data$value)] <- fill
  data <- data[!is.na(data$value), ]
  data$algorithm <- as.character(data$algorithm)
  algos <- sort(unique(as.character(data$algorithm)))
  rows <- list()
  for (a in algos) for (b in algos) if (a != b) {
    x <- data[data$algorithm == a, ]; y <- data[data$algorithm == b, ]
    id <- intersect(x$case, y$case)
    p <- wilcox.test(x$value[match(id, x$case)], y$value[match(id, y$case)], paired = TRUE, exact = FALSE,
                     alternative = if (hib) "greater" else "less")$p.value
    rows[[length(rows) + 1]] <- list(algorithm = a, versus = b, p = p)
  }
  p <- sapply(rows, function(r) r$p)
  holm <- p.adjust(p, method = "holm")
  lapply(seq_along(rows), function(i) c(rows[[i]], list(p_holm = holm[i])))
}

scheme_rankings <- function(ch, fill) {
  list(aggregate_mean = aggregateThenRank(ch, FUN = mean, na.treat = fill, ties.method = "min"),
       aggregate_median = aggregateThenRank(ch, FUN = median, na.treat = fill, ties.method = "min"),
       rank_then_aggregate = rankThenAggregate(ch, FUN = mean, ties.method = "min"),
       test_then_rank = testThenRank(ch, alpha = alpha, p.adjust.method = "none", na.treat = fill,
                                     ties.method = "min"))
}

out <- list(challenger_version = as.character(packageVersion("challengeR")), rankings = list(), consensus = list())
matlists <- list()
for (i in seq_len(nrow(fills))) {
  task <- fills$task[i]; metric <- fills$metric[i]; fill <- fills$fill[i]; hib <- as.logical(fills$higher_is_better[i])
  sub <- long[long$task == task & long$metric == metric, c("case", "algorithm", "value")]
  ch <- suppressMessages(as.challenge(sub, value = "value", algorithm = "algorithm", case = "case",
                                      smallBetter = !hib, check = TRUE))
  entry <- list(task = task, metric = metric, schemes = list(),
                pairwise_filled = pvalues(ch, fill, hib), pairwise_observed = pvalues(ch, NULL, hib))
  for (scheme in names(rankings <- suppressMessages(scheme_rankings(ch, fill)))) {
    m <- rankings[[scheme]]$matlist[[1]]
    entry$schemes[[scheme]] <- list(rank = setNames(as.list(m$rank), rownames(m)),
                                    score = setNames(as.list(m[[1]]), rownames(m)))
    matlists[[scheme]][[paste(task, metric, sep = " | ")]] <- m
  }
  out$rankings[[length(out$rankings) + 1]] <- entry
}

# Consensus across the task × metric rankings of each scheme, as challengeR's consensus.ranked.list computes it.
for (scheme in names(matlists)) {
  ranked <- structure(list(matlist = matlists[[scheme]]), class = c("ranked.list", "list"))
  for (method in c("euclidean", "Borda", "Copeland")) {
    cons <- consensus(ranked, method = method)
    out$consensus[[scheme]][[method]] <- as.list(cons[order(names(cons))])
  }
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), args[3])
