# kinfitr's reference-tissue fits for tests/pet/test_kinfitr.cpp.
# Usage: Rscript kinfitr_reference.R <kinfitr source dir> <in.csv> <simref_out.csv>
#   in.csv (t_min, ref, roi, w; first row t = 0): our simulator's TACs at the frame mids.
#   simref_out.csv: kinfitr's simref subject 2 (Times, StartTime, Duration in min, Reference, ROI1,
#   Weights), written for the C++ side. Prints "<name> SRTM MRTM k2' MRTM2 LoganRef" BP_ND per data set.
# Conventions set on both sides: times in minutes, trapezoid through the mid times from (0, 0),
# all frames for MRTM1/MRTM2 (t* = 0), Logan on the last 10 frames, k2' from MRTM1 for both.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages({
  library(minpack.lm); library(pracma); library(magrittr); library(tibble)
  library(dplyr); library(purrr); library(tidyr)
})
for (f in c("kinfitr_srtm.R", "kinfitr_mrtm1.R", "kinfitr_mrtm2.R", "kinfitr_reflogan.R",
            "kinfitr_miscfuncs.R", "kinfitr_weights.R", "utils-pipe.R")) {
  source(file.path(args[1], "R", f))
}
fit <- function(name, t, ref, roi, w) {
  a <- srtm(t, ref, roi, w)
  b <- mrtm1(t, ref, roi, weights = w)
  c <- mrtm2(t, ref, roi, b$par$k2prime, weights = w)
  l <- refLogan(t, ref, roi, b$par$k2prime, tstar = 10, weights = w)
  cat(name, sprintf("%.10g", c(a$par$bp, b$par$bp, b$par$k2prime, c$par$bp, l$par$bp)), "\n")
}
d <- read.csv(args[2])
fit("sim", d$t_min, d$ref, d$roi, d$w)
load(file.path(args[1], "data", "simref.RData"))
s <- as.data.frame(simref$tacs[[2]])
write.csv(s[, c("Times", "StartTime", "Duration", "Reference", "ROI1", "Weights")], args[3], row.names = FALSE)
fit("simref", s$Times, s$Reference, s$ROI1, s$Weights)
