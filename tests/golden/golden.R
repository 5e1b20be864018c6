# Golden values from R survey for cmlkit's design-based estimates.
# Run from the repository root:  Rscript tests/golden/golden.R tests/golden/golden.json
# Reads the fixtures beside this script (api extracts from R survey's data(api); the synthetic CML
# fixture from make_fixtures.py) and writes JSON. R is used only here, never at run time. Cases named d1-d5 (defects),
# s3 (two-stage, lonely PSUs), q4 (quantiles), r5 (svyglm, domain tests), o6 (svyolr), s7 (svyby), x8 (refusals)
# were added for issue 15; tests/test_estimates_vs_r.py prints every comparison.
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/golden/golden.json"
dir <- "tests/golden"
num <- function(x) paste0("[", paste(ifelse(is.na(x), "null", sprintf("%.17g", as.numeric(x))), collapse = ","), "]")
cases <- list()
add <- function(name, est, se = NULL, ci = NULL, df = NULL, w = NULL, extra = NULL) {
  parts <- c(sprintf('"estimate": %s', num(est)))
  if (!is.null(se)) parts <- c(parts, sprintf('"se": %s', num(se)))
  if (!is.null(ci)) parts <- c(parts, sprintf('"ci": %s', num(ci)))
  if (!is.null(df)) parts <- c(parts, sprintf('"df": %s', num(df)))
  if (!is.null(w)) parts <- c(parts, sprintf('"weights": %s', num(w)))
  if (!is.null(extra)) parts <- c(parts, sprintf('"extra": %s', num(extra)))
  cases[[name]] <<- paste0("{", paste(parts, collapse = ", "), "}")
}
stat <- function(name, s, design, df = degf(design), w = NULL) {
  ci <- confint(s, df = df)
  add(name, coef(s), SE(s), c(t(ci)), df, w)
}

apistrat <- read.csv(file.path(dir, "apistrat.csv"))
apiclus1 <- read.csv(file.path(dir, "apiclus1.csv"))
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
stat("api_strat_mean_api00", svymean(~api00, dstrat), dstrat)
stat("api_strat_total_enroll", svytotal(~enroll, dstrat, na.rm = TRUE), dstrat)
m <- svymean(~api00, dstrat, deff = TRUE); add("api_strat_mean_deff", coef(m), SE(m), extra = deff(m))
stat("api_clus1_mean_api00", svymean(~api00, dclus1), dclus1)
stat("api_clus1_total_enroll", svytotal(~enroll, dclus1, na.rm = TRUE), dclus1)
r <- svyratio(~api00, ~api99, dclus1); add("api_clus1_ratio", coef(r), SE(r))
pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
dps <- postStratify(dclus1, ~stype, pop.types)
stat("api_ps_mean_api00", svymean(~api00, dps), dps, w = weights(dps))
stat("api_ps_total_enroll", svytotal(~enroll, dps, na.rm = TRUE), dps)
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
drk <- rake(dclus1, list(~stype, ~sch.wide), list(pop.types, pop.schwide), control = list(maxit = 100, epsilon = 1e-12))
stat("api_rake_total_enroll", svytotal(~enroll, drk, na.rm = TRUE), drk, w = weights(drk))
totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, sch.wideYes = 5122)
for (cf in c("linear", "raking")) {
  dc <- calibrate(dclus1, ~stype + sch.wide, totals, calfun = cf, epsilon = 1e-12, maxit = 200)
  stat(paste0("api_cal_", cf, "_mean_api00"), svymean(~api00, dc), dc, w = weights(dc))
  stat(paste0("api_cal_", cf, "_total_enroll"), svytotal(~enroll, dc, na.rm = TRUE), dc)
}
dcl <- calibrate(dclus1, ~stype + sch.wide, totals, calfun = "logit", bounds = c(0.3, 3), epsilon = 1e-12, maxit = 200)
stat("api_cal_logit_mean_api00", svymean(~api00, dcl), dcl, w = weights(dcl))
dcb <- calibrate(dclus1, ~stype + sch.wide, totals, calfun = "linear", bounds = c(0.6, 1.8), epsilon = 1e-12, maxit = 200)
stat("api_cal_linear_bounded_mean_api00", svymean(~api00, dcb), dcb, w = weights(dcb))
b <- svyby(~api00, ~stype, dclus1, svymean); add("api_clus1_by_stype", coef(b), SE(b))
bp <- svyby(~api00, ~stype, dps, svymean); add("api_ps_by_stype", coef(bp), SE(bp))
for (meth in c("logit", "beta", "mean")) {
  p <- svyciprop(~I(sch.wide == "Yes"), dclus1, method = meth)
  add(paste0("api_ciprop_", meth), coef(p), SE(p), attr(p, "ci"), degf(dclus1))
  sub <- subset(dclus1, stype == "H")
  p <- svyciprop(~I(sch.wide == "Yes"), sub, method = meth)
  add(paste0("api_ciprop_H_", meth), coef(p), SE(p), attr(p, "ci"), degf(sub))
}
add("api_degf", c(degf(dstrat), degf(dclus1), degf(subset(dclus1, stype == "H"))))

# frame-shaped CML fixture: census of in-scope libraries with nonresponse
resp <- read.csv(file.path(dir, "cml_responses.csv"))
popc <- read.csv(file.path(dir, "cml_population.csv"))
des <- svydesign(id = ~1, strata = ~region, fpc = ~N_region, data = resp)
stat("cml_mean_paid_coord", svymean(~paid_coord, des), des)
stat("cml_total_volunteers", svytotal(~volunteers, des), des)
stat("cml_mean_income_na", svymean(~income, des, na.rm = TRUE), des)
for (meth in c("logit", "beta", "mean")) {
  p <- svyciprop(~I(paid_coord == 1), des, method = meth)
  add(paste0("cml_ciprop_", meth), coef(p), SE(p), attr(p, "ci"), degf(des))
}
b <- svyby(~hours, ~type, des, svymean); add("cml_by_type_hours", coef(b), SE(b))
pop_type <- aggregate(N ~ type, popc, sum); names(pop_type)[2] <- "Freq"
dps <- postStratify(des, ~type, pop_type)
stat("cml_ps_total_volunteers", svytotal(~volunteers, dps), dps, w = weights(dps))
stat("cml_ps_mean_paid_coord", svymean(~paid_coord, dps), dps)
reg <- aggregate(N ~ region, popc, sum); typ <- aggregate(N ~ type, popc, sum)
tot <- c(`(Intercept)` = sum(popc$N), setNames(reg$N[-1], paste0("region", reg$region[-1])), typeICL = typ$N[typ$type == "ICL"])
for (cf in c("linear", "raking")) {
  dc <- calibrate(des, ~region + type, tot, calfun = cf, epsilon = 1e-12, maxit = 200)
  stat(paste0("cml_cal_", cf, "_mean_paid_coord"), svymean(~paid_coord, dc), dc, w = weights(dc))
  stat(paste0("cml_cal_", cf, "_total_volunteers"), svytotal(~volunteers, dc), dc)
  b <- svyby(~paid_coord, ~type, dc, svymean); add(paste0("cml_cal_", cf, "_by_type"), coef(b), SE(b))
}
vol <- read.csv(file.path(dir, "cml_volunteers.csv"))
dv <- svydesign(id = ~library_id, weights = ~w_vol, data = vol)
stat("cml_vol_mean_sat", svymean(~sat_score, dv), dv)
p <- svyciprop(~I(older == 1), dv, method = "logit"); add("cml_vol_ciprop_older", coef(p), SE(p), attr(p, "ci"), degf(dv))

# findings: Wald tests of equal domain means (svyglm + regTermTest), Rao-Scott tests of independence,
# Cronbach's alpha (design-weighted and equal-weight)
wt <- function(name, m, term) { t <- regTermTest(m, term, method = "Wald"); add(name, c(t$Ftest, t$df, t$ddf, t$p)) }
wt("find_wald_api00_stype", svyglm(api00 ~ stype, dstrat), ~stype)
wt("find_wald_hours_type", svyglm(hours ~ type, des), ~type)
wt("find_wald_api00_stype_clus", svyglm(api00 ~ stype, dclus1), ~stype)
rs <- function(name, f, d) { x <- svychisq(f, d, statistic = "F"); add(name, c(x$statistic, x$parameter, x$p.value)) }
rs("find_raoscott_stype_schwide", ~stype + sch.wide, dstrat)
rs("find_raoscott_stype_compimp_clus", ~stype + comp.imp, dclus1)
add("find_alpha_weighted", svycralpha(~api00 + api99 + enroll, dstrat, na.rm = TRUE))
apistrat$one <- 1
add("find_alpha_unweighted", svycralpha(~api00 + api99 + enroll, svydesign(id = ~1, weights = ~one, data = apistrat), na.rm = TRUE))

# ---- issue 15: defects (negative calibration weights, beta interval in a calibrated domain, trimming,
# NA outcomes in a Wald test, an extreme raking target) ----
tot_neg <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = 6194 * 560)
dneg <- calibrate(dclus1, ~stype + api99, tot_neg)
stat("d1_negative_total_enroll", svytotal(~enroll, dneg, na.rm = TRUE), dneg, w = weights(dneg))
stat("d1_negative_mean_api00", svymean(~api00, dneg), dneg)
dc <- calibrate(dclus1, ~stype + sch.wide, totals)
for (meth in c("beta", "logit", "mean")) {
  sub <- subset(dc, stype == "H")
  p <- svyciprop(~I(comp.imp == "Yes"), sub, method = meth)
  add(paste0("d2_cal_domain_ciprop_", meth), coef(p), SE(p), attr(p, "ci"), degf(sub))
}
dtr <- trimWeights(dclus1, upper = 40, lower = 20)
add("d3_trim_equal", svytotal(~enroll, dtr, na.rm = TRUE), w = weights(dtr))
dtr <- trimWeights(dc, upper = 38, strict = TRUE)
stat("d3_trim_strict_cal_mean_api00", svymean(~api00, dtr), dtr, w = weights(dtr))
wt("find_wald_income_na_type", svyglm(income ~ type, des), ~type)
wt("find_wald_income_na_region_cal", svyglm(income ~ region, calibrate(des, ~region + type, tot)), ~region)
for (no in c(100, 30)) {
  drx <- calibrate(dclus1, ~stype + sch.wide, c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, sch.wideYes = 6194 - no),
                   calfun = "raking", epsilon = 1e-10)
  stat(paste0("d5_extreme_rake_", no), svytotal(~enroll, drx, na.rm = TRUE), drx, w = weights(drx))
}
drb <- calibrate(dclus1, ~stype + sch.wide, c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, sch.wideYes = 6194 - 300),
                 calfun = "logit", bounds = c(0.2, 5))
stat("d5_logit_default_eps", svytotal(~enroll, drb, na.rm = TRUE), drb, w = weights(drb))

# ---- issue 15: two-stage design with fpc at both stages (libraries, then volunteers), lonely PSUs ----
vol$vid <- seq_len(nrow(vol))
v2 <- merge(vol, resp[, c("library_id", "region", "type", "N_region", "volunteers")], by = "library_id")
v2$M <- pmax(v2$volunteers, ave(rep(1, nrow(v2)), v2$library_id, FUN = sum))
d2 <- svydesign(id = ~library_id + vid, strata = ~region, fpc = ~N_region + M, data = v2)
stat("s3_twostage_mean_sat", svymean(~sat_score, d2), d2, w = weights(d2))
stat("s3_twostage_total_older", svytotal(~older, d2), d2)
b <- svyby(~sat_score, ~type, d2, svymean); add("s3_twostage_by_type", coef(b), SE(b))
d2c <- calibrate(d2, ~type, c(`(Intercept)` = sum(popc$N) * 8, typeICL = 8 * sum(popc$N[popc$type == "ICL"])))
stat("s3_twostage_cal_mean_sat", svymean(~sat_score, d2c), d2c, w = weights(d2c))
lone <- resp
lone$region[1] <- "Zcertain"; lone$N_region[1] <- 1
lone$region[2] <- "Zlonely"; lone$N_region[2] <- 7
for (lp in c("average", "adjust", "certainty", "remove")) {
  options(survey.lonely.psu = lp)
  dl <- svydesign(id = ~1, strata = ~region, fpc = ~N_region, data = lone)
  stat(paste0("s3_lonely_", lp, "_mean_hours"), svymean(~hours, dl), dl)
  stat(paste0("s3_lonely_", lp, "_total_vol"), svytotal(~volunteers, dl), dl)
  b <- svyby(~hours, ~type, dl, svymean); add(paste0("s3_lonely_", lp, "_by_type"), coef(b), SE(b))
  dlc <- postStratify(dl, ~type, pop_type)
  b <- svyby(~hours, ~type, dlc, svymean); add(paste0("s3_lonely_", lp, "_ps_by_type"), coef(b), SE(b))
}
options(survey.lonely.psu = "fail")
dcert <- svydesign(id = ~1, strata = ~region, fpc = ~N_region, data = lone[-2, ])
stat("s3_certainty_stratum_fail_rule", svymean(~hours, dcert), dcert)
# several variables and ratios by domain on a calibrated design (svyby)
b <- svyby(~api00 + api99, ~stype, dc, svymean); add("s7_cal_by_two_means", unlist(coef(b)), unlist(SE(b)))
b <- svyby(~api00, ~stype, denominator = ~api99, dc, svyratio); add("s7_cal_by_ratio", unlist(coef(b)), unlist(SE(b)))

# ---- issue 15: quantiles (svyquantile defaults: qrule "math", interval.type "mean"), overall and by domain ----
qq <- function(name, q) add(name, q[[1]][, 1], q[[1]][, 4], c(t(q[[1]][, 2:3])))
qq("q4_income_quartiles", svyquantile(~income, des, c(0.25, 0.5, 0.75), na.rm = TRUE))
qq("q4_hours_quartiles", svyquantile(~hours, des, c(0.25, 0.5, 0.75)))
qq("q4_api00_clus", svyquantile(~api00, dclus1, c(0.1, 0.5, 0.9)))
qq("q4_api00_cal", svyquantile(~api00, dc, c(0.25, 0.5, 0.75)))
qq("q4_sat_twostage", svyquantile(~sat_score, d2, c(0.5)))
b <- svyby(~income, ~type, des, svyquantile, quantiles = c(0.25, 0.5, 0.75), na.rm = TRUE, ci = TRUE)
add("q4_income_by_type", unlist(coef(b)), unlist(SE(b)))
b <- svyby(~hours, ~region, des, svyquantile, quantiles = 0.5, ci = TRUE)
add("q4_hours_median_by_region", unlist(coef(b)), unlist(SE(b)))
b <- svyby(~api00, ~stype, dc, svyquantile, quantiles = c(0.25, 0.5), ci = TRUE)
add("q4_api00_cal_by_stype", unlist(coef(b)), unlist(SE(b)))

# ---- issue 15: svyglm (linear, logistic) with regTermTest; tests restricted to a domain ----
gl <- function(name, m) add(name, coef(m), SE(m), df = m$df.residual)
m <- svyglm(hours ~ type + region, des); gl("r5_lm_hours", m); wt("r5_lm_hours_test_region", m, ~region)
dcc <- calibrate(des, ~region + type, tot)
m <- svyglm(income ~ hours + type, dcc); gl("r5_lm_income_cal_na", m); wt("r5_lm_income_cal_test_type", m, ~type)
m <- svyglm(paid_coord ~ type + hours, des, family = quasibinomial()); gl("r5_logit_paid", m); wt("r5_logit_paid_test_hours", m, ~hours)
m <- svyglm(I(comp.imp == "Yes") ~ stype + api99, dclus1, family = quasibinomial()); gl("r5_logit_api_clus", m)
wt("r5_logit_api_clus_test_stype", m, ~stype)
m <- svyglm(I(comp.imp == "Yes") ~ stype + api99, dc, family = quasibinomial()); gl("r5_logit_api_cal", m)
m <- svyglm(hours ~ region, subset(des, type == "CR")); gl("r5_domain_lm", m); wt("r5_domain_wald_region", m, ~region)
m <- svyglm(api00 ~ sch.wide, subset(dc, stype == "E")); gl("r5_domain_cal_lm", m); wt("r5_domain_cal_wald", m, ~sch.wide)
rs("r5_domain_raoscott_clus", ~sch.wide + comp.imp, subset(dclus1, stype == "E"))
rs("r5_domain_raoscott_cal", ~sch.wide + comp.imp, subset(dc, stype == "E"))

# ---- issue 15: svyolr, design-based proportional odds (BFGS run to a tight tolerance so that the comparison
# measures the model, not optim's stopping point) ----
ol <- function(name, m) add(name, c(coef(m)), SE(m), df = m$df.residual)
ol("o6_olr_conf_type_hours", svyolr(factor(conf3) ~ type + hours, des, control = list(reltol = 0, maxit = 10000)))
ol("o6_olr_conf_cal", svyolr(factor(conf3) ~ type + paid_coord + volunteers, dcc, control = list(reltol = 0, maxit = 10000)))

# ---- issue 15: refusals. Negative weights: svyciprop logit refuses (glm); beta, mean and xlogit answer ----
for (meth in c("beta", "mean", "xlogit")) {
  p <- svyciprop(~I(comp.imp == "Yes"), dneg, method = meth)
  add(paste0("x8_negative_ciprop_", meth), coef(p), SE(p), attr(p, "ci"), degf(dneg))
}

header <- sprintf('"survey_version": "%s", "r_version": "%s"', as.character(packageVersion("survey")), R.version.string)
body <- paste(sprintf('"%s": %s', names(cases), unlist(cases)), collapse = ",\n  ")
writeLines(paste0("{", header, ",\n \"cases\": {\n  ", body, "\n }\n}"), out)
cat("wrote", out, length(cases), "cases\n")
