# Golden values from R survey for the library users' two-stage design (cmlkit.user_weights, issue 19).
# Run from the repository root:  Rscript tests/golden/users.R tests/golden/users.json
# Reads users_fixture.csv and users_age_targets.csv (written by make_users_fixture.py from a synthetic wave).
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/golden/users.json"
dir <- "tests/golden"
num <- function(x) paste0("[", paste(ifelse(is.na(x), "null", sprintf("%.17g", as.numeric(x))), collapse = ","), "]")
cases <- list()
add <- function(name, est, se = NULL, ci = NULL, df = NULL) {
  parts <- c(sprintf('"estimate": %s', num(est)))
  if (!is.null(se)) parts <- c(parts, sprintf('"se": %s', num(se)))
  if (!is.null(ci)) parts <- c(parts, sprintf('"ci": %s', num(ci)))
  if (!is.null(df)) parts <- c(parts, sprintf('"df": %s', num(df)))
  cases[[name]] <<- paste0("{", paste(parts, collapse = ", "), "}")
}
stat <- function(name, s, design, df = degf(design)) add(name, coef(s), SE(s), c(t(confint(s, df = df))), df)

d <- read.csv(file.path(dir, "users_fixture.csv"), stringsAsFactors = FALSE)
d$one <- 1
# the two-stage user design: libraries (region strata, fpc = in-scope libraries), users within (fpc = active users)
des <- svydesign(ids = ~library_id + response_id, strata = ~region, fpc = ~N_region + active_users, weights = ~weight, data = d)
stat("two_stage_mean_score", svymean(~sat_overall_score, des, na.rm = TRUE), des)
stat("two_stage_mean_satisfied", svymean(~sat_overall_satisfied, des, na.rm = TRUE), des)
stat("two_stage_total_users", svytotal(~one, des), des)
cp <- svyciprop(~I(sat_overall_satisfied == 1), des, method = "logit", df = degf(des))
add("two_stage_ciprop_logit", coef(cp), SE(cp), as.numeric(attr(cp, "ci")))
b <- svyby(~sat_overall_score, ~type, des, svymean, na.rm = TRUE)
add("two_stage_by_type", coef(b), SE(b))
# raked to age bands: known bands to the population counts, users without an age held at their weighted total
tg <- read.csv(file.path(dir, "users_age_targets.csv"), stringsAsFactors = FALSE)
pop <- data.frame(age_cal = tg$age_band, Freq = tg$users)
unk <- sum(weights(des)[d$age_cal == "unknown"])
if (unk > 0) pop <- rbind(pop, data.frame(age_cal = "unknown", Freq = unk))
# raking distance via calibrate() (as cmlkit.weights.rake); R's rake() approximates the variance of a raked
# multistage design differently (iterated projections), calibrate() with calfun = "raking" is the exact linearisation
pop <- pop[order(pop$age_cal), ]
tot <- c(`(Intercept)` = sum(pop$Freq), setNames(pop$Freq[-1], paste0("age_cal", pop$age_cal[-1])))
raked <- calibrate(des, ~age_cal, tot, calfun = "raking", epsilon = 1e-12, maxit = 100)
stat("raked_mean_score", svymean(~sat_overall_score, raked, na.rm = TRUE), raked)
stat("raked_mean_satisfied", svymean(~sat_overall_satisfied, raked, na.rm = TRUE), raked)
# ignoring the clustering: users as if sampled independently, same weights
naive <- svydesign(ids = ~1, weights = ~weight, data = d)
stat("naive_mean_satisfied", svymean(~sat_overall_satisfied, naive, na.rm = TRUE), naive)
body <- paste(sprintf('"%s": %s', names(cases), unlist(cases)), collapse = ",\n  ")
header <- sprintf('"generated_by": "tests/golden/users.R", "r_version": "%s", "survey_version": "%s"',
                  R.version.string, as.character(packageVersion("survey")))
writeLines(paste0("{", header, ",\n \"cases\": {\n  ", body, "\n }\n}"), out)
cat("wrote", out, length(cases), "cases\n")
