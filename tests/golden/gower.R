# Golden Gower dissimilarities from R cluster::daisy for tests/test_governance.py.
# Usage: Rscript tests/golden/gower.R tests/golden/gower.json  (run from the repository root)
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/golden/gower.json"
suppressMessages(library(cluster))
x <- read.csv("tests/golden/gower_fixture.csv", na.strings = "", stringsAsFactors = FALSE)
x$legal <- factor(x$legal)
x$paid <- factor(x$paid, levels = c("none", "some", "coordinator"), ordered = TRUE)
x$grant <- as.numeric(x$grant)
w <- c(1, 1, 0.5, 1, 0.5)
d <- as.matrix(daisy(x, metric = "gower", type = list(symm = "grant"), weights = w))
d[is.na(d)] <- NaN
json <- paste0('{"r_version": "', R.version.string, '", "cluster_version": "', packageVersion("cluster"),
               '", "weights": [', paste(w, collapse = ", "), '], "gower": [',
               paste(apply(d, 1, function(r) paste0("[", paste(sprintf("%.17g", r), collapse = ", "), "]")), collapse = ", "), "]}")
writeLines(json, out)
