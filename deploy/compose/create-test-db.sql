create database lienthong_test;
