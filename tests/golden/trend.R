# Golden values from R survey for cmlkit.change (change between stacked waves, library clusters).
# Run from the repository root:  Rscript tests/golden/trend.R tests/golden/trend.json
# Reads tests/golden/trend_stacked.csv (written by make_trend_fixture.py). For each outcome and domain:
# the wave means and the change from svyby(~y, ~wave, design, svymean, covmat = TRUE) + svycontrast on the
# stacked design with ids = ~library_id (strata = region, no fpc), and the change's SE when the waves are
# treated as independent samples (strata = region x wave, each response its own PSU). R is used only here, never at run time.
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/golden/trend.json"
d <- read.csv("tests/golden/trend_stacked.csv", stringsAsFactors = FALSE)
d$stratum_wave <- paste(d$region, d$wave, sep = "|")
des <- svydesign(ids = ~library_id, strata = ~region, weights = ~weight, data = d)
ind <- svydesign(ids = ~1, strata = ~stratum_wave, weights = ~weight, data = d)
waves <- sort(unique(d$wave))
num <- function(x) sprintf("%.17g", as.numeric(x))
cases <- character(0)
contrast <- function(r, a, b) {
  v <- setNames(rep(0, length(coef(r))), names(coef(r)))
  v[a] <- -1
  v[b] <- 1
  svycontrast(r, v)
}
for (y in c("y_cont", "y_bin", "y_stable")) {
  f <- as.formula(paste0("~", y))
  for (b in c("overall", "type", "region")) {
    by <- if (b == "overall") ~wave else as.formula(paste0("~", b, "+wave"))
    # a missing value is a row outside the domain: subset() keeps every PSU in the variance (zero totals)
    r <- svyby(f, by, subset(des, !is.na(d[[y]])), svymean, covmat = TRUE)
    ri <- svyby(f, by, subset(ind, !is.na(d[[y]])), svymean, covmat = TRUE)
    doms <- if (b == "overall") "all" else sort(unique(d[[b]]))
    for (dom in doms) {
      na <- if (b == "overall") waves[1] else paste(dom, waves[1], sep = ".")
      nb <- if (b == "overall") waves[2] else paste(dom, waves[2], sep = ".")
      if (!(na %in% names(coef(r)) && nb %in% names(coef(r)))) next
      cc <- contrast(r, na, nb)
      ci <- contrast(ri, na, nb)
      cases <- c(cases, sprintf('"%s|%s|%s": {"estimate_a": %s, "estimate_b": %s, "se_a": %s, "se_b": %s, "change": %s, "se": %s, "se_independent": %s, "df": %s}',
        y, b, dom, num(coef(r)[na]), num(coef(r)[nb]), num(SE(r)[names(coef(r)) == na]), num(SE(r)[names(coef(r)) == nb]),
        num(coef(cc)), num(SE(cc)), num(SE(ci)), num(degf(des))))
    }
  }
}
writeLines(c("{", paste(cases, collapse = ",\n"), "}"), out)
