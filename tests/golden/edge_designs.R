# Golden values from R survey for designs at the edges (nested PSU ids, zero weights, a lonely SSU, df = Inf): an independent
# check against R found cmlkit silently wrong on each before stop 30. Run from the repository root:
#   Rscript tests/golden/edge_designs.R tests/golden/edge_designs.json
# Reads edge_designs.csv (written by make_edge_fixture.py).
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/golden/edge_designs.json"
num <- function(x) paste0("[", paste(ifelse(is.na(x), "null", sprintf("%.17g", as.numeric(x))), collapse = ","), "]")
cases <- list()
add <- function(name, ...) {
  v <- list(...)
  cases[[name]] <<- paste0("{", paste(sprintf('"%s": %s', names(v), vapply(v, num, "")), collapse = ", "), "}")
}
stat <- function(name, s, ...) add(name, estimate = coef(s), se = SE(s), ...)
d <- read.csv("tests/golden/edge_designs.csv", stringsAsFactors = FALSE)
# PSU ids numbered within strata: nest = TRUE (without it R refuses, and so does cmlkit)
nest1 <- svydesign(ids = ~psu_local, strata = ~stratum, weights = ~w, nest = TRUE, data = d)
stat("nest_one_stage_mean", svymean(~y, nest1), df = degf(nest1))
stat("nest_one_stage_total", svytotal(~y, nest1))
nest2 <- svydesign(ids = ~psu_local + ssu, strata = ~stratum, fpc = ~N_h + M_i, nest = TRUE, data = d)
stat("nest_two_stage_mean", svymean(~y, nest2), df = degf(nest2))
# rows of weight zero: the design effect counts only rows of non-zero weight (svyvar)
zero <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w0, data = d)
m <- svymean(~y, zero, deff = TRUE); add("zero_weight_mean_deff", estimate = coef(m), se = SE(m), deff = deff(m))
t <- svytotal(~y, zero, deff = TRUE); add("zero_weight_total_deff", estimate = coef(t), se = SE(t), deff = deff(t))
# post-stratifying a design with rows of weight zero (R gives them the residual -mean of their cell)
ps <- postStratify(zero, ~age, data.frame(age = c("16-34", "35-64", "65+"), Freq = c(1500, 2100, 1400)))
stat("zero_weight_poststrat_total", svytotal(~y, ps))
stat("zero_weight_poststrat_mean", svymean(~y, ps))
# lonely_psu = "average" with a lonely second-stage unit (PSU S1P1 keeps one SSU): R counts only the PSUs still in
# a subset, so a domain without that unit has a number (NaN only where the unit is in the domain)
options(survey.lonely.psu = "average")
lone <- svydesign(ids = ~psu + ssu, strata = ~stratum, fpc = ~N_h + M_i, data = d[!(d$psu == "S1P1" & d$ssu > 1), ])
stat("average_lonely_ssu_domain_mean", svymean(~y, subset(lone, psu != "S1P1" & age == "35-64")))
b <- svyby(~y, ~age, lone, svymean)
add("average_lonely_ssu_by_age", estimate = coef(b), se = SE(b))
options(survey.lonely.psu = "fail")
# regTermTest with df = Inf: the chi-square test
two <- svydesign(ids = ~psu + ssu, strata = ~stratum, fpc = ~N_h + M_i, data = d)
fit <- svyglm(y ~ age + x, two)
tt <- regTermTest(fit, ~age, method = "Wald", df = Inf)
add("reg_term_test_df_inf", chisq = tt$chisq, ndf = tt$df, p = tt$p)
body <- paste(sprintf('"%s": %s', names(cases), unlist(cases)), collapse = ",\n  ")
header <- sprintf('"generated_by": "tests/golden/edge_designs.R", "r_version": "%s", "survey_version": "%s"',
                  R.version.string, as.character(packageVersion("survey")))
writeLines(paste0("{", header, ",\n \"cases\": {\n  ", body, "\n }\n}"), out)
cat("wrote", out, length(cases), "cases\n")
