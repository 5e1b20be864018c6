# Golden values for cmlkit.share_intervals: logit intervals of share-valued means, as R survey's
# svyciprop(method = "logit", df = degf(design)).
# Run from the repository root:  Rscript tests/golden/intervals.R tests/golden/intervals.json
# Fixture: tests/golden/cml_responses.csv (synthetic). Two share-valued variables built from it:
#   share = min(hours / 40, 1)                (a mean in the middle of [0, 1])
#   small = max(hours - 30, 0) / 100          (a mean near 0, where a t interval leaves [0, 1])
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/golden/intervals.json"
d <- read.csv("tests/golden/cml_responses.csv")
d$share <- pmin(d$hours / 40, 1)
d$small <- pmax(d$hours - 30, 0) / 100
des <- svydesign(id = ~1, strata = ~region, fpc = ~N_region, data = d)
num <- function(x) sprintf("%.17g", as.numeric(x))
cases <- c()
one <- function(name, var, design) {
  f <- as.formula(paste0("~", var))
  ci <- suppressWarnings(svyciprop(f, design, method = "logit", df = degf(design)))
  m <- svymean(f, design)
  cases <<- c(cases, sprintf('"%s": {"estimate": %s, "se": %s, "df": %s, "ci": [%s, %s]}', name,
                              num(coef(ci)), num(SE(m)), num(degf(design)), num(attr(ci, "ci")[1]), num(attr(ci, "ci")[2])))
}
for (v in c("share", "small", "paid_coord")) {
  one(paste0(v, "|all"), v, des)
  for (g in c("CR", "ICL")) one(paste0(v, "|", g), v, subset(des, type == g))
}
writeLines(c("{", paste0("  ", paste(cases, collapse = ",\n  ")), "}"), out)
