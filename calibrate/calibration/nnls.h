// Non-negative least squares, the solver behind every fitted profile coefficient (energy and
// time per unit of work cannot be negative). Internal to joulecast_calibration: the one header of
// the library that names Eigen types, included only by fit.cc and the tests.
#pragma once

#include <Eigen/Dense>

namespace joulecast {

/// Solves min ||a x - b||_2 subject to x >= 0 by Lawson and Hanson's active-set method, with the
/// columns scaled to unit norm while solving (so counts of 1e9 and 1 condition alike) and the
/// unconstrained sub-problems solved by column-pivoting QR (rank-deficient sets are fine). A
/// column of zeros gets coefficient 0. Returns x, the size of a's columns.
/// REQUIRES: a.rows() == b.size().
Eigen::VectorXd SolveNnls(const Eigen::MatrixXd& a, const Eigen::VectorXd& b);

}  // namespace joulecast
